local ok, e = pcall(function() local t = nil; return t.x end)
print(ok)
