print(xpcall(function(a, b) return a + b end, print, 3, 4))
