print(3 // 0.0, -3 % math.huge, 3 % -math.huge, 5.0 % 0 ~= 5.0 % 0)
