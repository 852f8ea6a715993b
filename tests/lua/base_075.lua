print(math.maxinteger + 1 == math.mininteger, math.mininteger - 1 == math.maxinteger)
