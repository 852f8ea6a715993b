print(math.maxinteger // -1, math.mininteger // -1, math.mininteger % -1)
