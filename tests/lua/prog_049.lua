local s = 0
for i = 1, 1000 do s = s + i / 10 end
print(s)
