print(1e300 * 1e10, -1e300 * 1e10, 5 // math.huge, -5 // math.huge)
