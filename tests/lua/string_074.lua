print(string.format("%q %q %q %q", 42, 1.5, math.mininteger, 1/0))
