local t = {}
print(table.remove(t), #t)
print(table.remove(t, 0))
