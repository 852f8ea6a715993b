print(string.find("hello", "l", 4), string.find("hello", "h", 2), string.find("hello", "", 3), string.find("hello", "", 10))
