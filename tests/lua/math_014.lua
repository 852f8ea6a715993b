print(math.sqrt(16), math.sqrt(2), math.sqrt(-1) ~= math.sqrt(-1))
