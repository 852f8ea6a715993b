local env = {y = 5}
local f = load("return y", "chunk", "t", env)
print(f())
