print(pcall(string.format, "%123d", 1))
print(pcall(string.format, "%.123f", 1))
