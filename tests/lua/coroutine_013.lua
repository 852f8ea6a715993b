local outer
outer = coroutine.create(function()
  local inner = coroutine.create(function() print(coroutine.status(outer)) end)
  coroutine.resume(inner)
end)
coroutine.resume(outer)
