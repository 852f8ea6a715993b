local store = {5, 3, 9, 1}
local p = setmetatable({}, {__index = store, __newindex = store, __len = function() return #store end})
table.sort(p)
print(table.concat(store, " "))
