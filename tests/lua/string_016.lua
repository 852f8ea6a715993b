print(string.find("hello", "o", -1), string.find("hello", "h", -10), string.find("", ""), string.find("abc", "", 4), string.find("abc", "", 5))
