local t = {}
t[#t + 1] = "first"
t[#t + 1] = "second"
print(#t, t[#t])
