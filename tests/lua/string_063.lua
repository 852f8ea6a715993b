print(string.format("%i %u %d", -7, 7, math.mininteger))
