print(string.format("[%s]", "a\0b"):len())
