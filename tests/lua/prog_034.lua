local t = setmetatable({}, {__concat = function(a, b) return "cat" end})
print(t .. "x", "x" .. t)
