print(string.sub("hello", -100, 2), string.sub("hello", 3, 2), string.sub("hello", 5, 100), string.sub("hello", -1, -1))
