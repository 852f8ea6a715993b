print(pcall(utf8.len, "abc", 5))
print(pcall(utf8.offset, "\xe2\x82\xac", 1, 2))
