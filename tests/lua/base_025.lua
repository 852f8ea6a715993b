local ok, err = pcall(function() error("boom", 0) end)
print(ok, err)
