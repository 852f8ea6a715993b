local gen = coroutine.wrap(function() error("wrapped error") end)
print(pcall(gen))
