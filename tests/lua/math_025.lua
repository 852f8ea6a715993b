math.randomseed(0)
print(math.random(math.mininteger, math.maxinteger))
