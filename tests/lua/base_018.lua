local t = setmetatable({}, {__newindex = function() error("no") end})
rawset(t, "a", 1)
print(t.a)
