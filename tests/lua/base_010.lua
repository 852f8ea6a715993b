print(tonumber("0xffffffffffffffff"), tonumber("0x7fffffffffffffff"), math.type(tonumber("0x10")))
