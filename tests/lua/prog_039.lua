local t = {}
local ok, e = pcall(function() t[nil] = 1 end)
print(ok)
