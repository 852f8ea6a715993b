print(pcall(function() table.insert(nil, 1) end))
