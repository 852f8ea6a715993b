print(string.match("2024-01-15", "(%d+)-(%d+)-(%d+)"))
