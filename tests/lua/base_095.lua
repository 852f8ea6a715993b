-- __tostring that gives no string: the usual "(error object is a table value)"; one that
-- fails: its own error, with a traceback through it and then the failed call.
print(pcall(error, setmetatable({}, {__tostring = function() return 42 end})))
local function fail()
  error(setmetatable({}, {__tostring = function() error("broken __tostring") end}))
end
fail()
