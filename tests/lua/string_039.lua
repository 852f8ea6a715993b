local n = 0
for c in ("abc"):gmatch(".") do n = n + 1 end
print(n)
