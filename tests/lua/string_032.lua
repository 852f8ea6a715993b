print(pcall(string.match, "x", ")"))
print(pcall(string.match, "x", "%1"))
print(pcall(string.match, "x", "%f"))
