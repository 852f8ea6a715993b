print(tostring(12):rep(2), ("x"):byte(), ("%a"):len())
