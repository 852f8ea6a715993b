print(string.unpack("z z", "ab\0cd\0"))
