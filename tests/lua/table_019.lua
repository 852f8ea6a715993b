local t = {}
for i = 1, 30 do t[i] = i % 4 end
table.sort(t, function(a, b) return a < b end)
print(table.concat(t, ""))
