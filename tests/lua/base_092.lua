print("before")
local x = nil
error({})
print("after")
