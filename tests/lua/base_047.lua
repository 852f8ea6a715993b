local t = {10, 20, 30}
for i, v in ipairs(t) do print(i, v) end
