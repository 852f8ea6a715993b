print(math.type(1), math.type(1.0), math.type("1"), math.type(nil))
