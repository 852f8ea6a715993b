-- table.move when a table has metamethods (arguments already checked)
local a1, f, e, t, a2 = ...
if e >= f then
  local n = e - f + 1
  if t > e or t <= f or a1 ~= a2 then
    for i = 0, n - 1 do a2[t + i] = a1[f + i] end
  else
    for i = n - 1, 0, -1 do a2[t + i] = a1[f + i] end
  end
end
return a2
