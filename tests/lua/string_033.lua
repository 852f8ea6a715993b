print(pcall(string.match, "x", "%b"))
print(pcall(string.find, "x", "(()"))
