print(string.match("abcabc", "(abc)%1"), string.match("abab", "(a)(b)%1%2"), string.match("x", "()"))
