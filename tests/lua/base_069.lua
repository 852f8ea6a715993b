local t = setmetatable({}, {__index = {x = 1}})
print(t.x, rawget(t, "x"))
