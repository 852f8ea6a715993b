print(string.gsub("abc", "%w", function(c) if c == "b" then return false end return c:upper() end))
