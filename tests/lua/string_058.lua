print(string.gsub("abc", ".", {a = 1, b = true}))
