local t = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
print(pcall(table.sort, t, function(a, b) return true end))
