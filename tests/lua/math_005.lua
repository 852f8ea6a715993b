print(pcall(math.max))
print(pcall(math.min, "x"))
