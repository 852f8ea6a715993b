math.randomseed(42)
print(math.random(1, 100), math.random(1, 100), math.random(10))
