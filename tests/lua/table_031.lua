local store = {10, 20, 30}
local p = setmetatable({}, {__index = store, __newindex = store, __len = function() return #store end})
print(table.remove(p), #store)
print(table.concat(p, "+"))
print(table.unpack(p))
