local ok, err = pcall(function() error(42) end)
print(ok, err, math.type(err))
