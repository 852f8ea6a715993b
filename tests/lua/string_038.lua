for w in string.gmatch("hello world from lua", "%a+", 7) do print(w) end
