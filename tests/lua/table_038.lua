local t = {n = 0}
for i = 1, 100 do t[i] = i end
print(#t, t[100])
for i = 100, 51, -1 do t[i] = nil end
print(#t)
