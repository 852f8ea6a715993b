local co
co = coroutine.create(function() print(coroutine.status(co)) end)
coroutine.resume(co)
