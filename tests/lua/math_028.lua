math.randomseed(2024)
local counts = {0, 0, 0}
for i = 1, 300 do local r = math.random(3) counts[r] = counts[r] + 1 end
print(table.concat(counts, " "))
