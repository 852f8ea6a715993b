math.randomseed(123)
local t = {}
for i = 1, 10 do t[i] = math.random(6) end
print(table.concat(t, " "))
