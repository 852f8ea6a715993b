local co = coroutine.create(function() error({}) end)
local ok, e = coroutine.resume(co)
print(ok, type(e))
