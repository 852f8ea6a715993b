local t = {}
for i = 1, 50 do t[i] = (i * 37) % 50 end
table.sort(t)
print(table.concat(t, ","))
