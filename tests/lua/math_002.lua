print(math.type(math.floor(3.7)), math.floor(1e100), math.ceil(-1e100), math.floor(-0.0))
