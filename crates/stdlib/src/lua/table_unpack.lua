-- table.unpack for tables with metamethods
local t, i, e = ...
i = i or 1
if e == nil then e = #t end
if i > e then return end
if e - i >= 1000000 then error("\1too many results to unpack", 0) end
local out = {}
for k = i, e do out[k - i + 1] = t[k] end
return plain_unpack(out, 1, e - i + 1)
