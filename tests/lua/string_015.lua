print(string.find("hello", "(l)(l)"), string.find("hello", "()ll()"))
