print(string.gsub("hello world", "(%w+) (%w+)", "%2 %1"))
