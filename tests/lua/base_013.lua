print(select(5, 1, 2))
print(select("#", select(2, 1, 2, 3)))
