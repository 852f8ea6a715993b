math.randomseed(1)
print(math.random(3, 3), pcall(math.random, 5, 1))
