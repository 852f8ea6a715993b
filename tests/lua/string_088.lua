print(string.format("%.0e %#.0e %#x %#X", 12345, 12345, 255, 255))
