local mt = {}
local t = setmetatable({}, mt)
print(getmetatable(t) == mt, getmetatable({}), getmetatable(1))
