print(pcall(string.gsub, "hello", "l", "%2"))
print(pcall(string.gsub, "hello", "l", "%x"))
