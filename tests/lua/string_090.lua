local s = "hello"
print(s:upper(), s:len(), s:sub(2, 3), s:byte(1), s:find("l"))
