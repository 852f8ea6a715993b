local t = {3.5, 1, 2.25, -1, 0}
table.sort(t)
print(table.concat(t, " "))
