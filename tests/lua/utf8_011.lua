for c in ("añb€"):gmatch(utf8.charpattern) do print(c, #c) end
