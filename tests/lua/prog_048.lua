print(100000000000000, 1e14 // 1, math.tointeger(1e14))
