local ok, err = pcall(function() error({code = 42}) end)
print(ok, type(err), err.code)
