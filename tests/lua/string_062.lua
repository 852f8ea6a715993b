print(string.format("%d %5d %-5d| %05d %+d %x %X %o", 42, 42, 42, 42, 42, 255, 255, 8))
