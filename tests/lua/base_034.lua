print(xpcall(function() error({}) end, function(m) return type(m) end))
