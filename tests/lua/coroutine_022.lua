print(select("#", coroutine.running()), coroutine.status(coroutine.running()))
