local t = setmetatable({}, {__tostring = function() return "custom!" end})
print(string.format("%s|%10s", t, t))
