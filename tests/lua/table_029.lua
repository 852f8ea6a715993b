print(pcall(table.move, {}, 1, 2))
