print(pcall(table.insert, {}, 1, 2, 3))
print(pcall(table.insert, nil, 1))
