print(pcall(utf8.codepoint, "\xff"))
print(pcall(utf8.codepoint, "abc", 5))
