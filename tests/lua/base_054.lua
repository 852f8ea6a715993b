local t = {1, 2, 3}
local k, v = next(t)
print(k, v)
print(next(t, 3))
