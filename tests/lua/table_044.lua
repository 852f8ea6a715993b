local t = {}
for i = 1, 10 do t[i] = 11 - i end
table.sort(t, function(a, b) return a % 3 < b % 3 end)
print(table.concat(t, " "))
