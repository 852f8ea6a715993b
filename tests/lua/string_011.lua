print(pcall(function() return string.rep("x", 2, {}) end))
