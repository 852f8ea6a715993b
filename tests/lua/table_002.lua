local t = {}
table.insert(t, "a")
table.insert(t, "b")
table.insert(t, 2, "x")
print(table.concat(t, " "))
