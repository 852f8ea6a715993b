print(xpcall(function() error("x") end, function(m) return "handled: " .. m end))
