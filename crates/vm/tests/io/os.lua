-- os functions that reach files, commands and the environment.
local name = os.tmpname()
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if type(v) == "string" then v = string.format("%q", (v:gsub(name, "<tmp>", 1, true):gsub(name, "<tmp>"))) end
    t[i] = tostring(v)
  end
  print(table.concat(t, " ", 1, t.n))
end

local f = io.open(name)
show(io.type(f), f:read("a"))
f:close()
show(os.rename(name, name .. ".2"))
show(os.rename(name, name .. ".3"))
show(os.remove(name .. ".2"))
show(os.remove(name .. ".2"))
assert(os.execute("mkdir '" .. name .. "'"))
show(os.remove(name))
show(type(os.getenv("PATH")), os.getenv("LUA_PERSIST_SURELY_UNSET"))
show(pcall(os.getenv))
show(os.execute())
show(os.execute("exit 0"))
show(os.execute("exit 3"))
show(os.execute("kill -9 $$"))
show(os.execute("not-a-command-anywhere 2>/dev/null"))
show(pcall(os.execute, {}))

local p = io.popen("echo from a command; exit 5")
show(io.type(p), p:read("l"), p:read("a"))
show(p:close())
p = io.popen("cat > '" .. name .. "'", "w")
show(p:write("through a pipe"))
show(p:close())
f = io.open(name)
show(f:read("a"))
f:close()
show(pcall(io.popen, "true", "rw"))
show(pcall(io.popen, "true", "r+"))
show(io.popen("true"):read("a"))
show(io.popen("exit 2", "w"):close())
os.remove(name)
