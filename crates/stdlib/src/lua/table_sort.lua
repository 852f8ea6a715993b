-- table.sort with a comparator or on a table with metamethods. The same quicksort as
-- Lua 5.4 (median of three, middle pivot), so equal elements end in the same order and
-- inconsistent comparators are caught at the same points. Swaps go through locals: piccolo
-- 0.3.3 mis-evaluates multiple assignments to table fields.
local t, lt = ...
local n = #t
if n <= 1 then return end
if lt == nil then lt = function(a, b) return a < b end end
local function swap(i, j)
  local x = t[i]
  t[i] = t[j]
  t[j] = x
end
local function auxsort(lo, up)
  while lo < up do
    if lt(t[up], t[lo]) then swap(lo, up) end
    if up - lo == 1 then return end
    local p = (lo + up) // 2
    if lt(t[p], t[lo]) then
      swap(p, lo)
    elseif lt(t[up], t[p]) then
      swap(p, up)
    end
    if up - lo == 2 then return end
    local pivot = t[p]
    swap(p, up - 1)
    local i, j = lo, up - 1
    while true do
      i = i + 1
      while lt(t[i], pivot) do
        if i == up - 1 then error("\1invalid order function for sorting", 0) end
        i = i + 1
      end
      j = j - 1
      while lt(pivot, t[j]) do
        if j < i then error("\1invalid order function for sorting", 0) end
        j = j - 1
      end
      if j < i then break end
      swap(i, j)
    end
    swap(up - 1, i)
    if i - lo < up - i then
      auxsort(lo, i - 1)
      lo = i + 1
    else
      auxsort(i + 1, up)
      up = i - 1
    end
  end
end
auxsort(1, n)
