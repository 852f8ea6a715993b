print(coroutine.close(coroutine.create(print)))
