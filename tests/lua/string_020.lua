print(string.match("hello", ".-"), string.match("hello", ".*"), string.match("hello", "l+"), string.match("hello", "l-o"))
