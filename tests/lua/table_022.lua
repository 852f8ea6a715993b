local t = {3, 1, 2}
table.sort(t, nil)
print(t[1], t[2], t[3])
