print(string.format("%.14g", 0.1), string.format("%.17g", 0.1), string.format("%.20f", 0.1))
