local gen = coroutine.wrap(function() end)
gen()
print(pcall(gen))
