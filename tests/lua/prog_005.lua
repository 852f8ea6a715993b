local function map(t, f) local r = {} for i, v in ipairs(t) do r[i] = f(v) end return r end
print(table.concat(map({1, 2, 3}, function(x) return x * 10 end), ","))
