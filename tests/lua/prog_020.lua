local t = {3, 1, 2}
local sorted = {table.unpack(t)}
table.sort(sorted)
print(table.concat(t, ","), table.concat(sorted, ","))
