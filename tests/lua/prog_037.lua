local ok, e = pcall(string.rep, "x", -5)
print(ok, e == "")
