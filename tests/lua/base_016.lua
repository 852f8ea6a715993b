print(rawlen({1, 2, 3}), rawlen("abcd"))
print(pcall(rawlen, 5))
