local ok, err = pcall(function() error("boom") end)
print(ok, err)
