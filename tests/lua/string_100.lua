print(string.unpack("c3", "abcdef"), string.unpack("c2c2", "abcd"))
