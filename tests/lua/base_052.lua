local t = {5, 6, 7}
local sum = 0
for k, v in pairs(t) do sum = sum + k * v end
print(sum)
