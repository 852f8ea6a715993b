print(string.find("hello world", "wor"), string.find("hello", "l"), string.find("hello", "xyz"))
