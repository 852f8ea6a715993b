print(string.pack(">I2", 258):byte(1, -1))
print(string.pack("<I3", 0x010203):byte(1, -1))
