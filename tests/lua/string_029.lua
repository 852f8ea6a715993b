print(string.match("HELLO hello", "%u+"), string.match("HELLO hello", "%l+"), string.match("0x1F", "%x+", 3), string.match("a b", "%S+"))
