print(string.match("abc", "()b()"), string.match("hello", "h?ello"), string.match("ello", "h?ello"))
