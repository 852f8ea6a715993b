local t = table.move({1, 2, 3, 4, 5}, 2, 4, 1)
print(table.concat(t, ","))
