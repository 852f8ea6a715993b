print(load("return 1", "x", "b"))
