print(select(-2, 1, 2, 3))
print(pcall(select, 0, 1))
print(pcall(select, -5, 1))
