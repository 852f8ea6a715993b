print(string.format("%e %.3e %E %10.2e", 12345.6789, 0.000123, 1e100, -5.5))
