local Stack = {}
Stack.__index = Stack
function Stack.new() return setmetatable({items = {}}, Stack) end
function Stack:push(v) table.insert(self.items, v) end
function Stack:pop() return table.remove(self.items) end
local s = Stack.new()
s:push(1) s:push(2) s:push(3)
print(s:pop(), s:pop(), #s.items)
