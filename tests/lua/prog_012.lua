local acc = {}
for k, v in pairs({10, 20, 30}) do acc[#acc + 1] = k .. ":" .. v end
print(table.concat(acc, " "))
