print(tostring(print):match("^(%a+):"))
