local function outer() local function inner() error("from inner") end inner() end
local ok, e = pcall(outer)
print(ok, e)
