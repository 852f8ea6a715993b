print(string.pack("!4 b i4", 1, 2):len(), string.pack("b x i2", 1, 2):len())
