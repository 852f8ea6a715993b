print(pcall(function() return 3 // 0 end))
print(pcall(function() return 3 % 0 end))
