print(("abc"):upper():lower():rep(2))
