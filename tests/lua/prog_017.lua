local hex = {}
for i = 0, 15 do hex[#hex + 1] = string.format("%x", i) end
print(table.concat(hex))
