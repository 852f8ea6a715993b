print(math.max(1, 5, 3), math.max(1.5, 2), math.min(4, 2, 8), math.min(1, 1.0), math.max(2, 2.0))
