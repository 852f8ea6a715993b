print(string.match("hello", "^h"), string.match("hello", "^e"), string.match("hello", "o$"), string.match("hello$", "o%$"))
