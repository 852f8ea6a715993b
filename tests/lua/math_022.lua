math.randomseed(7, 3)
print(math.random(1, 1000000), math.random(-10, 10))
