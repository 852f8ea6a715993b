print(pcall(string.gsub, "x", "x", nil))
