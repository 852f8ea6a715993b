print(string.find("a.b.c", ".", 1, true), string.find("a.b.c", "%."), string.find("a+b", "+", 1, true))
