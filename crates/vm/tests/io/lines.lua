-- io.lines and file:lines: formats, closing at the end and on break, errors.
local name = os.tmpname()
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if type(v) == "string" then v = string.format("%q", (v:gsub(name, "<tmp>", 1, true))) end
    if io.type(v) then v = io.type(v) end
    t[i] = tostring(v)
  end
  print(table.concat(t, " ", 1, t.n))
end

local f = assert(io.open(name, "w"))
f:write("alpha\n\nbeta 10 20\n  30\ngamma")
f:close()

for l in io.lines(name) do show(l) end
for l in io.lines(name, "L") do show(l) end
for a, b in io.lines(name, 3, "l") do show(a, b) end
for n in io.lines(name, "n") do show(n) end
for a, b, c in io.lines(name, "l", "n", "n") do show(a, b, c) end

-- the file is the loop's fourth value and closes with the loop
local iter, s, c, file = io.lines(name)
show(type(iter), s, c, io.type(file))
for l in iter, s, c, file do break end
show(io.type(file))
show(pcall(iter))

iter = io.lines(name)
while iter() do end
show(pcall(iter))

-- file:lines leaves the file open
f = assert(io.open(name))
for l in f:lines() do end
show(io.type(f), f:read("a"))
f:seek("set")
for l in f:lines(2) do show(l) break end
f:close()
show(pcall(f.lines, f))

-- errors
show(pcall(io.lines, name .. ".missing"))
show(pcall(function() for l in io.lines(name, "x") do end end))
show(pcall(io.lines, name, table.unpack({}, 1, 251)))
show(select("#", io.lines(name, table.unpack({}, 1, 250))))
f = assert(io.open(name, "w"))
show(pcall(f:lines()))
f:close()

-- default input
io.input(name)
show(io.read(), io.read("L"))
for l in io.lines() do show(l) end
show(io.type(io.input()), io.read())
io.input():close()
show(pcall(io.read))
show(pcall(io.lines))
io.input(io.stdin)

-- load from lines
f = assert(io.open(name, "w"))
f:write("local x = 1\nx = x + 41\nreturn x\n")
f:close()
show(load(io.lines(name, "L"))())
show(load(io.lines(name, 1))())

os.remove(name)
