print(pcall(table.unpack, {}, 1, 1e8))
