local t = setmetatable({}, {__len = function() return 99 end})
print(#t, rawlen(t))
