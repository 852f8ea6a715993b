print(string.gsub("abc", "%w", "%0%0"))
