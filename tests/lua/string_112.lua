print(string.rep("ab", 3, ""))
