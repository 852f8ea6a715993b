-- loadfile and dofile: modes, environments, first lines, errors.
local name = os.tmpname()
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if type(v) == "string" then v = string.format("%q", (v:gsub(name, "<tmp>", 1, true))) end
    t[i] = tostring(v)
  end
  print(table.concat(t, " ", 1, t.n))
end
local function write(text)
  local f = assert(io.open(name, "wb"))
  f:write(text)
  f:close()
end

write("return ..., x")
show(loadfile(name)(1, 2))
show(loadfile(name, "t", {x = "env x"})(3))
show(pcall(loadfile(name, "bt", nil), 4))
show(loadfile(name, "b"))
show(dofile(name))
x = "global x"
show(dofile(name))

write("#!/usr/bin/env lua\nreturn debug.getinfo(1, 'l').currentline")
show(loadfile(name)())
write("\239\187\191return 'after a byte-order mark'")
show(loadfile(name)())
write("\239\187\191# comment after a mark\nreturn 'comment'")
show(loadfile(name)())
write("# only a comment")
show(loadfile(name)())
write("")
show(loadfile(name)())

write("return 1 +")
show(loadfile(name))
show(pcall(dofile, name))
write("error('raised in the file')")
show(pcall(dofile, name))
write("local a, b = coroutine.yield(1) return a + b")
local co = coroutine.wrap(dofile)
show(co(name))
show(co(20, 22))

os.remove(name)
show(loadfile(name))
show(pcall(dofile, name))
show(pcall(loadfile, {}))
show(loadfile("/"))
