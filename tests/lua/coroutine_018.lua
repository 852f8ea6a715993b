local function producer() return coroutine.create(function() for _, v in ipairs({"a", "b", "c"}) do coroutine.yield(v) end end) end
local p = producer()
while true do local ok, v = coroutine.resume(p) if not v then break end print(v) end
