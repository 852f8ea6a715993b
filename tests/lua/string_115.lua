local csv = "a,b,,d"
for field in (csv .. ","):gmatch("([^,]*),") do print("<" .. field .. ">") end
