local words = {"delta", "alpha", "charlie", "bravo"}
table.sort(words, function(a, b) return #a < #b or (#a == #b and a < b) end)
print(table.concat(words, " "))
