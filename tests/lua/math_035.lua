print(pcall(function() return 1 & 1.5 end))
