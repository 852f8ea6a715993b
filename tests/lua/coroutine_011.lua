local co = coroutine.create(function() coroutine.yield() end)
coroutine.resume(co)
print(coroutine.status(co), coroutine.close(co), coroutine.status(co))
