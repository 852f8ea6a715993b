print(table.concat({"a", "b", "c"}, ",", 3, 2), table.concat({1.5, 2, "x"}, " "))
