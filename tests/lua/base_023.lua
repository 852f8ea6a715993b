local ok, err = pcall(error, "msg")
print(ok, err)
