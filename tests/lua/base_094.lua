-- An uncaught error value with __tostring is reported as the string it gives, with no
-- traceback (lua.c's message handler); pcall still gets the value itself.
local E = setmetatable({}, {__tostring = function(e) return "custom error object" end})
print(pcall(error, E))
print(select(2, pcall(error, E)) == E)
error(E)
