print(math.log(0), math.log(-1) ~= math.log(-1))
