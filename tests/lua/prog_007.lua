local s = ""
for i = 1, 10 do s = s .. i .. (i < 10 and "," or "") end
print(s)
