local t = {}
t[1] = 1
t[2] = 2
t[4] = 4
print(#t == 2 or #t == 4)
