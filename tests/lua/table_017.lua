print(pcall(table.sort, {3, "a", 1}))
