-- table.concat for tables with metamethods (sep is a string, i and j integers or nil)
local t, sep, i, j = ...
local last = #t
i = i or 1
if j ~= nil then last = j end
local parts, n = {}, 0
while i <= last do
  local v = t[i]
  local tv = type(v)
  if tv ~= "string" and tv ~= "number" then
    error(format("\1invalid value (%s) at index %d in table for 'concat'", tv, i), 0)
  end
  n = n + 1
  parts[n] = v
  i = i + 1
end
return plain_concat(parts, sep)
