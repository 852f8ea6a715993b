print(tonumber("10"), tonumber("  0x10  "), tonumber("1e2"), tonumber("abc"), tonumber(""), tonumber(" "))
