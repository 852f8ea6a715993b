local count = 0
for _ in pairs(_G) do count = count + 1 end
print(count > 20)
