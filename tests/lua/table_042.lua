local t = setmetatable({}, {__index = table})
t:insert("a")
t:insert("b")
print(t:concat("-"))
