print(math.modf(3.7), math.modf(-3.7))
print(math.modf(5), math.modf(1/0), math.modf(-1/0))
