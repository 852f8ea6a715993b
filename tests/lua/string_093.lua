print(string.unpack("<i2", "\1\2"), string.unpack(">i2", "\1\2"), string.unpack("B", "\255"), string.unpack("b", "\255"))
