print(pcall(math.type))
