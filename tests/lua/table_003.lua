print(pcall(table.insert, {1}, 5, 2))
print(pcall(table.insert, {1}, 0, 2))
