local store = {4, 5, 6}
local p = setmetatable({}, {__index = store, __newindex = store, __len = function() return #store end})
table.move(p, 1, 3, 2)
print(table.concat(store, ","))
