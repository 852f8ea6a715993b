print(string.match("abc123def", "[%a]+"), string.match("abc123def", "[%d]+"), string.match("abc-def", "[^-]+$"))
