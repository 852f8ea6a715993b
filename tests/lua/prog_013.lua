print(string.format("%-10s%5d%8.2f", "item", 3, 4.5))
print(string.format("%-10s%5d%8.2f", "other", 12, 100))
