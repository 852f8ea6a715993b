print(math.sin(0), math.cos(0), math.tan(0), string.format("%.6f", math.sin(math.pi / 2)))
