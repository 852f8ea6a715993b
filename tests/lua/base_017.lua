local t = setmetatable({}, {__index = function(t, k) return k * 2 end})
print(t[21], rawget(t, 21))
