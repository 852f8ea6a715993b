print(pcall(function() return 1 < "2" end))
