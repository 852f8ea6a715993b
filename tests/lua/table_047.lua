local t = {1, 2, 3}
print(table.concat(t, ", ", 1, 2), table.concat(t, nil))
