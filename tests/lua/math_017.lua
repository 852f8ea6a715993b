print(math.exp(0), math.exp(1), math.log(1), math.log(math.exp(2)), math.log(8, 2), math.log(1000, 10), math.log(27, 3))
