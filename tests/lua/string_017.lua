print(string.match("hello 123 world", "%d+"), string.match("key=val", "(%w+)=(%w+)"), string.match("abc", "x"))
