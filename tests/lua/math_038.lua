print(string.format("%.3f", math.pi), math.pi * 2, -math.pi)
