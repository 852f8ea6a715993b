print(string.unpack("d", string.pack("d", 3.25)), string.unpack("f", string.pack("f", 0.5)))
