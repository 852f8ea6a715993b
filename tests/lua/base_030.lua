print(assert(1, 2, 3))
print(pcall(assert))
