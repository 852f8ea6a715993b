-- Tables used as queues: keys cleared from the front while new ones are appended. The
-- borders (#t) are lua5.4's, which depend on when its array part is resized.
local function show(...)
  local a = table.pack(...)
  for i = 1, a.n do a[i] = tostring(a[i]) end
  print(table.concat(a, " "))
end

for _, n in ipairs({1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 1000}) do
  local t = {}
  for i = 1, n do t[i] = i end
  show("filled", n, #t)
  for k = 1, n do
    t[k] = nil
    if k == n // 2 or k == n - 1 or k == n then show("cleared", n, k, #t) end
  end
  for i = 1, n do t[i] = -i end
  show("refilled", n, #t)
  for i = n + 1, 2 * n do t[i] = i end
  show("extended", n, #t)
  local c = 0
  for _ in pairs(t) do c = c + 1 end
  local d = 0
  for _ in ipairs(t) do d = d + 1 end
  show("counts", n, c, d)
end

for _, n in ipairs({4, 8, 16, 64, 1000}) do
  local t = {}
  for i = 1, n do t[i] = i end
  for k = 1, n - 1 do t[k] = nil end
  for i = n + 1, 3 * n do t[i] = i end
  show("appended", n, #t)
  for i = n, 3 * n do t[i] = nil end
  show("emptied", n, #t)
  for i = 1, n do t[i] = i end
  show("again", n, #t)
end

local q, head, tail = {}, 1, 1
for i = 1, 5000 do
  q[tail] = i
  tail = tail + 1
  if i % 3 ~= 0 then
    q[head] = nil
    head = head + 1
  end
  if i % 499 == 0 then
    local c = 0
    for _ in pairs(q) do c = c + 1 end
    show("queue", i, head, tail, c, #q, q[head], q[tail - 1])
  end
end
while head < tail do
  assert(q[head])
  q[head] = nil
  head = head + 1
end
show("drained", #q, next(q) == nil)
for i = 1, 10 do q[i] = i end
show("reused", #q)
