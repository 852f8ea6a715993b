print(math.abs(-5), math.abs(5.5), math.abs(-0.0), math.abs(math.mininteger))
