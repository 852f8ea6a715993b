print(math.asin(1), math.acos(1), math.atan(1), math.atan(1, -1), math.atan(0, -1))
