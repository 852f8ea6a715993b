local t = {1, 2, 3}
print(table.remove(t), table.concat(t, ","))
print(table.remove(t, 1), table.concat(t, ","))
