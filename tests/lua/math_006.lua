print(math.maxinteger, math.mininteger, math.huge, -math.huge, math.pi)
