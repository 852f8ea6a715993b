print(string.match("aaa", "a-b"), string.match("aaab", "a-b"), string.match("", "a*"), string.match("b", "a?b"))
