print(math.abs(-2^63) == 2^63, math.max(math.huge, 1), math.min(-math.huge, 1))
