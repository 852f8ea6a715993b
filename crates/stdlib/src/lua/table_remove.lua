-- table.remove for tables with metamethods
local t, pos = ...
local size = #t
if pos == nil then pos = size end
if pos ~= size and (pos < 1 or pos > size + 1) then
  error("\1bad argument #1 to 'remove' (position out of bounds)", 0)
end
local result = t[pos]
while pos < size do
  t[pos] = t[pos + 1]
  pos = pos + 1
end
t[pos] = nil
return result
