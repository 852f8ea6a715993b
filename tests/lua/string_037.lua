for p in string.gmatch("abc", "()") do print(p) end
