print(string.format("%x %X %#x %#o %o", -1, 3054, 0, 0, 511))
