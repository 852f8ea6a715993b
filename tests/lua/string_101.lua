print(pcall(string.unpack, "i4", "ab"))
print(pcall(string.packsize, "s"))
print(pcall(string.pack, "y"))
