print(pcall(error, "lvl2", 2))
