print(math.type(3 // 1), math.type(3 / 1), math.type(2^2), math.type(7 % 2))
