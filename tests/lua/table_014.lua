local t = {"banana", "apple", "cherry", "Apple"}
table.sort(t)
print(table.concat(t, " "))
