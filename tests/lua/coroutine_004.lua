local co = coroutine.create(function() error("oops") end)
print(coroutine.resume(co))
print(coroutine.status(co))
