print(tonumber("inf"), tonumber("nan"), tonumber("0x"), tonumber("1 2"), tonumber(nil))
