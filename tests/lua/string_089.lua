print(("x"):rep(3))
