print(math.ult(1, 2), math.ult(-1, 2), math.ult(2, -1), math.ult(0, 0))
