local q = {first = 1, last = 0, items = {}}
local function push(v) q.last = q.last + 1 q.items[q.last] = v end
local function pop() local v = q.items[q.first] q.items[q.first] = nil q.first = q.first + 1 return v end
push("a") push("b")
print(pop(), pop(), pop())
