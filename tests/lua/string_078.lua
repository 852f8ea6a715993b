print(pcall(string.format, "%d"))
print(pcall(string.format, "%d", "x"))
print(pcall(string.format, "%z", 1))
