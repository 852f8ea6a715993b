local t = {1, 2, 3}
print(pcall(table.remove, t, 7))
print(table.remove(t, 4), #t)
