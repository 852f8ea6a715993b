local function f() return 1, 2, 3 end
local t = {f()}
local u = {f(), f()}
print(#t, #u)
