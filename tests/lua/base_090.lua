local function thrower() error("deep") end
local ok, e = pcall(function() thrower() end)
print(e)
