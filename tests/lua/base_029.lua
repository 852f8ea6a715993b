print(pcall(function() assert(false) end))
print(pcall(function() assert(nil, "custom") end))
