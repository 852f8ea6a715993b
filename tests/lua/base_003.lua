print(tostring(nil), tostring(true), tostring(false), tostring("x"))
