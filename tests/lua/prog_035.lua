local t = setmetatable({}, {__unm = function() return "neg" end, __lt = function() return true end, __le = function() return false end})
print(-t, t < t, t <= t)
