local result = {}
for i = 1, 3 do for j = 1, 3 do if j > i then break end result[#result + 1] = i * 10 + j end end
print(table.concat(result, " "))
