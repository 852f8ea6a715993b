print(string.format("%3d|%-3d|%03d", 5, 5, 5))
