local t = {{n = 3, s = "c"}, {n = 1, s = "a"}, {n = 2, s = "b"}, {n = 1, s = "z"}}
table.sort(t, function(a, b) return a.n < b.n end)
for _, v in ipairs(t) do print(v.n, v.s) end
