print(pcall(string.match, "x", "("))
print(pcall(string.match, "x", "%"))
print(pcall(string.match, "x", "[a"))
