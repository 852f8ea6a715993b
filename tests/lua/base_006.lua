print(tonumber("1.5"), tonumber(".5"), tonumber("5."), tonumber("0x1p4"), tonumber("0x.8"), tonumber("1e"))
