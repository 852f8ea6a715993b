print(string.gsub("one two", "(%w+)", string.upper))
