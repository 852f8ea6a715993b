-- Files through io.open and file methods: modes, formats, positions, buffering, errors.
local name = os.tmpname()
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if type(v) == "string" then
      v = string.format("%q", (v:gsub(name, "<tmp>", 1, true)))
    elseif io.type(v) then
      v = io.type(v)
    end
    t[i] = tostring(v)
  end
  print(table.concat(t, " ", 1, t.n))
end

-- modes
for _, mode in ipairs{"r", "w", "a", "r+", "w+", "a+", "rb", "r+b", "rbb", "rw", "rb+", "", "+", "b", "x"} do
  show(mode, pcall(io.open, name, mode))
end

-- writing: strings and numbers as C prints them
local f = assert(io.open(name, "w"))
show(f:write("line one\n", 2, " ", 2.5, " ", 1e100, " ", -0.0, " ", 1/0, " ", 2^63, " ", math.mininteger, "\n"))
show(f:write("second line\n", "\n", "0x1Fp2 -.5e3 12abc\n", "last line without newline"))
show(pcall(f.write, f, {}))
show(f:seek("cur"), f:seek("set", 5), f:seek("end"), f:seek("set"))
show(f:close())
show(pcall(f.write, f, "x"))
show(tostring(f), io.type(f), io.type(io.stdout), io.type(42))

-- reading with every format
f = assert(io.open(name))
show(f:read("l"))
show(f:read("L"))
show(f:read("n", "n", "n", "n"))
show(f:read("*l"))
show(f:read("*L"))
show(f:read("n", "n", "l"))
show(f:read(3, 0, "l"))
show(f:read("a"))
show(f:read("a"), f:read(0), f:read(1), f:read("l"), f:read("n"))
show(pcall(f.read, f, "x"))
show(pcall(f.read, f, "*"))
show(pcall(f.read, f, {}))
show(pcall(f.read, f, 1.5))
f:seek("set", 2)
show(f:read(4), f:seek())
f:seek("cur", -2)
show(f:read(10))
show(f:seek("end", -4), f:read("a"))
show(f:seek("set", -1))
show(pcall(f.seek, f, "bad"))
show(pcall(f.seek, f, "set", 1.5))
show(f:close())

-- numbers as read("n") scans them
f = assert(io.open(name, "w"))
f:write("0x10 -7 +3.25e1 .5 5. 1e 0x 0xep1 - 12e+ 9223372036854775807 9223372036854775808 ",
        string.rep("1", 250), " 7 nan inf\n")
f:close()
f = assert(io.open(name))
for _ = 1, 12 do show(f:read("n"), f:read(1)) end
show(f:read("l"))
f:close()

-- read errors and write errors
f = assert(io.open(name, "w"))
show(f:read())
show(f:read("a"))
show(f:close())
f = assert(io.open(name, "r"))
show(f:write("x"))
show(f:close())

-- update modes
f = assert(io.open(name, "w+"))
f:write("hello world")
f:seek("set", 6)
show(f:read("a"))
f:seek("set", 0)
f:write("HELLO")
f:seek("set")
show(f:read("a"))
f:close()
f = assert(io.open(name, "a+"))
f:write("!")
f:seek("set")
show(f:read("a"))
f:close()
f = assert(io.open(name, "r+"))
show(f:read(5))
f:write("_")
f:seek("set")
show(f:read("a"))
f:close()

-- buffering as setvbuf asks
local w = assert(io.open(name, "w"))
local r = assert(io.open(name, "r"))
show(w:setvbuf("full", 100))
w:write("x")
show(r:read("a"))
show(w:flush())
show(r:read("a"))
show(w:setvbuf("line"))
w:write("ab")
show(r:read("a"))
w:write("c\nd")
show(r:read("a"))
show(w:setvbuf("no"))
w:write("e")
show(r:read("a"))
show(pcall(w.setvbuf, w, "bad"))
w:close()
r:close()

-- closing
f = assert(io.open(name))
show(f:close())
show(pcall(f.close, f))
show(pcall(f.read, f))
show(pcall(f.lines, f))
show(pcall(f.seek, f))
show(pcall(f.flush, f))
show(tostring(f))
show(pcall(io.stdin.close))
show(pcall(io.stdout.write, 42))
show(io.stdout:close())
show(io.close(io.stderr))

do
  local g <close> = assert(io.open(name))
  f = g
end
show(io.type(f))

show(os.remove(name))
show(os.remove(name))
show(io.open(name))
show(io.open(name .. "/x", "w"))
