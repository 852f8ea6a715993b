print(string.gsub("abc", "^a", "X"), string.gsub("aaa", "^a", "X"))
