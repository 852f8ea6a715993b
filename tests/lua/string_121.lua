-- Two-operand concatenation of strings and numbers, at the edges of the in-place fast path
-- (integer limits, floats, the 22-byte inline and 40-byte short string limits) and with
-- __concat metamethods.
local function show(s) print(#s, s) end
show('k' .. math.maxinteger)
show('k' .. math.mininteger)
show(math.mininteger .. math.mininteger)
show(math.maxinteger .. '')
show('' .. -1 .. '' .. 0)
show(-7 .. -7)
show(10 .. 100)
show('x' .. 1e100)
show('x' .. -0.0)
show(0.0 .. 'x')
show('x' .. 1/0 .. -1/0)
show('x' .. 2^63)
show(3 .. 0.5)
print(tostring(0/0 .. ''):match('nan') ~= nil)
local nan = 'n' .. (0/0)
print(#nan >= 4, nan:sub(-3))
-- lengths around the inline (22) and short (40) limits: equal strings built two ways
for _, n in ipairs({19, 20, 21, 22, 23, 38, 39, 40, 41}) do
  local a = ('a'):rep(n - 10) .. 1234567890
  local b = ('a'):rep(n - 10) .. '1234567890'
  local c = -123456789 .. ('b'):rep(n - 10)
  print(n, #a, a == b, rawequal(a, b), #c, c == '-123456789' .. ('b'):rep(n - 10))
  local t = {[a] = n}
  print(t[b], next(t) == b)
end
local long = ('y'):rep(40)
show(long .. 12345)
show(12345 .. long)
show(long .. long)
show(('z'):rep(18) .. math.mininteger)
show(('z'):rep(19) .. math.mininteger)
show(math.mininteger .. ('z'):rep(21))
show(math.mininteger .. ('z'):rep(20))
-- __concat
local mt = {__concat = function(a, b)
  local function v(x) return type(x) == 'table' and x.v or x end
  return 'C(' .. v(a) .. ',' .. v(b) .. ')'
end}
local o = setmetatable({v = 'o'}, mt)
print(o .. 1, 1 .. o, 'k' .. o, o .. o, 'a' .. 'b' .. o .. 'c' .. 2)
print(pcall(function() return 'k' .. {} end))
print(pcall(function() return 1 .. true end))
-- the same integers through tostring, table.concat and string coercion
local ints = {math.mininteger, math.mininteger + 1, -100, -10, -1, 0, 1, 9, 10, 99, 100, math.maxinteger}
local parts = {}
for i, n in ipairs(ints) do parts[i] = tostring(n) end
print(table.concat(parts, ' '))
print(table.concat(ints, ','))
print(table.concat({1.5, -0.0, 1e100, 2^63, 'x', 7}, ';'))
print(tostring('same') == 'same', tostring(-0.0), tostring(1e15), string.rep(12, 2), string.rep(-0.5, 2, 1))
