print(table.concat({1, 2, 3}), table.concat({1, 2, 3}, ", "), table.concat({}, "x"), table.concat({1, 2, 3}, "-", 2), table.concat({1, 2, 3}, "-", 2, 3))
