local co, main = coroutine.running()
print(type(co), main)
print(coroutine.wrap(function() local c, m = coroutine.running() return type(c), m end)())
