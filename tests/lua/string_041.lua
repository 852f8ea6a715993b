print(string.gsub("hello world", "o", "0"))
