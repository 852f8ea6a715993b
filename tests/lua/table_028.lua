local a, b = {1, 2, 3}, {}
table.move(a, 1, 3, 5, b)
print(b[5], b[6], b[7], b[1])
