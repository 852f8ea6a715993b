local memo = setmetatable({}, {__mode = "k"})
print(getmetatable(memo).__mode)
