print(table.unpack({}, 1, 0))
print(select("#", table.unpack({}, 1, 3)))
