local f = load("return ...")
print(f(1, 2, 3))
