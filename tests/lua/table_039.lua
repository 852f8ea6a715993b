local t = {10, 20, 30, nil}
print(#t)
