local ok, err = pcall(function() error() end)
print(ok, err)
