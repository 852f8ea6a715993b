local log = {}
local p = setmetatable({}, {__index = function(t, k) return log[k] end, __newindex = function(t, k, v) log[k] = v end, __len = function() return #log end})
table.insert(p, "a")
table.insert(p, "b")
table.insert(p, 1, "c")
print(#p, log[1], log[2], log[3])
