local data = "name=Alice;age=30;city=Paris"
local r = {}
for k, v in data:gmatch("(%w+)=(%w+)") do r[#r + 1] = k .. "->" .. v end
print(table.concat(r, " | "))
