print(string.format("%d", 3.0))
print(pcall(string.format, "%d", 3.5))
