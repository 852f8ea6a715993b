local store = {1, 2, 3}
local p = setmetatable({}, {__index = store, __newindex = store, __len = function() return #store end})
print(pcall(table.insert, p, 9, "x"))
