print(pcall(pcall))
print(pcall(42))
