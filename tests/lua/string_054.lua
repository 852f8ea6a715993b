print(pcall(string.gsub, "hello", "l", function() return {} end))
