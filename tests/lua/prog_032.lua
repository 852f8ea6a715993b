local t = setmetatable({}, {__call = function(self, a, b) return a * b end})
print(t(6, 7), pcall(t, 2, 3))
