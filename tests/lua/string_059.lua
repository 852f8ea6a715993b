print(string.gsub("x = 1", "()=()", "%1%2"))
