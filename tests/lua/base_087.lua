local t = {f = function(self, x) return x * 2 end}
print(t:f(21))
