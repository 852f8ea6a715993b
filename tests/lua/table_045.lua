print(table.unpack({1, 2, 3}, -1, 1))
