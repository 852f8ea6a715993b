print(coroutine.isyieldable())
print(coroutine.wrap(function() return coroutine.isyieldable() end)())
