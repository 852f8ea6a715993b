local t = setmetatable({}, {__eq = function() return true end})
print(t == setmetatable({}, getmetatable(t)), rawequal(t, {}))
