print(pcall(table.sort, {1, 2, 3}, 1))
