print(string.gsub("hello", "l", "%%"))
