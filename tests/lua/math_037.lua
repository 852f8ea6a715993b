for _, v in ipairs({0.5, 1.5, 2.5, -0.5, -1.5}) do print(v, math.floor(v + 0.5)) end
