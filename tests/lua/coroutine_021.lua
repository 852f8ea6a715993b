local co = coroutine.create(function() coroutine.yield(1) end)
print(coroutine.resume(co))
print(coroutine.resume(co))
print(coroutine.resume(co))
