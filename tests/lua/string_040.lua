for a in string.gmatch("xyz", "") do print("[" .. a .. "]") end
