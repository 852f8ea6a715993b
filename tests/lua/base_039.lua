local f = load("x = 10; return x")
print(f(), x)
