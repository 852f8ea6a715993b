print(math.floor(2^62) == 2^62, math.type(2^62), math.tointeger(2^62))
