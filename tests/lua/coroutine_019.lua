local co = coroutine.wrap(function() local x = 0 while true do x = x + (coroutine.yield(x) or 0) end end)
print(co(), co(5), co(10), co(1))
