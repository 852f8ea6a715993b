local s = "The quick brown fox"
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w:lower() end
print(table.concat(words, ","))
