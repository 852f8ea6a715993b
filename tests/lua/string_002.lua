print(string.byte("ABC", 10), string.byte("", 1), string.byte("hello", -3, -1))
