local t = {}
for i = 1, 20 do t[i] = i * i end
print(table.concat(t, " "))
