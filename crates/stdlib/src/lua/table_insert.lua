-- table.insert for tables with metamethods (arguments already checked)
local t, nargs, pos, v = ...
local e = #t + 1
if nargs == 2 then
  t[e] = pos
  return
end
if pos < 1 or pos > e then error("\1bad argument #2 to 'insert' (position out of bounds)", 0) end
for i = e, pos + 1, -1 do t[i] = t[i - 1] end
t[pos] = v
