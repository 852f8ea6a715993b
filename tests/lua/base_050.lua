local t = {a = 1}
for k, v in pairs(t) do print(k, v) end
