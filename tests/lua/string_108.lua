print(pcall(function() return "abc" + 1 end))
