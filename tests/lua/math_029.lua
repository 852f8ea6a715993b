print(pcall(math.floor, "x"))
print(math.floor("3.5"))
