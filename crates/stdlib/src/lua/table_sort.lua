-- table.sort with a comparator or on a table with metamethods. The same quicksort as
-- Lua 5.4 (median of three, middle pivot), so equal elements end in the same order and
-- inconsistent comparators are caught at the same points.
local t, lt = ...
local n = #t
if n <= 1 then return end
if lt == nil then lt = function(a, b) return a < b end end
local function auxsort(lo, up)
  while lo < up do
    if lt(t[up], t[lo]) then t[lo], t[up] = t[up], t[lo] end
    if up - lo == 1 then return end
    local p = (lo + up) // 2
    if lt(t[p], t[lo]) then
      t[p], t[lo] = t[lo], t[p]
    elseif lt(t[up], t[p]) then
      t[p], t[up] = t[up], t[p]
    end
    if up - lo == 2 then return end
    local pivot = t[p]
    t[p], t[up - 1] = t[up - 1], pivot
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
      t[i], t[j] = t[j], t[i]
    end
    t[up - 1], t[i] = t[i], t[up - 1]
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
