print(coroutine.resume(coroutine.create(function() return pcall(error, "inner") end)))
