local s = "Hello, World!"
local enc = s:gsub("%a", function(c) local base = c:match("%l") and 97 or 65 return string.char((c:byte() - base + 13) % 26 + base) end)
print(enc)
