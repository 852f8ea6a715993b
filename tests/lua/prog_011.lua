local t = {}
for i = 1, 5 do t[#t + 1] = function() return i end end
print(t[1](), t[5]())
