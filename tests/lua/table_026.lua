local t = table.move({1, 2, 3}, 1, 3, 2)
print(table.concat(t, ","))
