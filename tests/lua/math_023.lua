print(math.randomseed(5))
