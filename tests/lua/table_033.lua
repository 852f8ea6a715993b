local store = {}
local p = setmetatable({}, {__index = store, __newindex = store, __len = function() return #store end})
for i = 1, 5 do p[#p + 1] = i * i end
for i, v in ipairs(p) do print(i, v) end
