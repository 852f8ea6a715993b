print(pcall(string.pack, "i1", 200))
print(pcall(string.pack, "I1", -1))
