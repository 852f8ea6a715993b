local s = 0
for i = 1, 10 do s = s + i end
print(s)
for i = 10, 1, -3 do print(i) end
