local store = {"a", {}, "c"}
local p = setmetatable({}, {__index = store, __len = function() return 3 end})
print(pcall(table.concat, p))
