print(string.char(72, 105), string.char(), pcall(string.char, 256))
