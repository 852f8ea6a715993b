local f = load("return 1 + 2")
print(f())
