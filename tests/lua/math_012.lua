print(pcall(math.fmod, 1, 0))
print(math.fmod(1, 0.0), math.fmod(math.mininteger, -1))
