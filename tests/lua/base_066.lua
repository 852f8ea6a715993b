local a <const> = 5
print(a)
