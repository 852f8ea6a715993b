print(string.unpack("i2 i2", string.pack("i2 i2", -3, 7)))
