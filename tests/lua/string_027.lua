print(string.match("x]y", "[]]"), string.match("a-b", "[a-]+"), string.match("^x", "[%^x]+"), string.match("abc", "[b-c]+"))
