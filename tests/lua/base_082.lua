local t = {}
t[1.0] = "a"
t[2] = "b"
print(t[1], t[2.0], #t)
