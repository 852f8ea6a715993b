print(load("\27Lua", "x", "t"))
