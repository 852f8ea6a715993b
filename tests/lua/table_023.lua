local t = table.pack(1, nil, 3)
print(t.n, t[1], t[2], t[3])
print(table.pack().n)
