math.randomseed(42)
print(math.random())
print(math.random(0))
