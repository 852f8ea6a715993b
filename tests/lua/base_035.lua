print(pcall(xpcall))
print(pcall(xpcall, print))
