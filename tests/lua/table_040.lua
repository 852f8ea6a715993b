local t = {"x", "y", "z"}
print(table.remove(t, 1), table.remove(t, 1), table.remove(t, 1), table.remove(t, 1))
