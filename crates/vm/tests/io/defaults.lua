-- io.input, io.output, io.write, io.read, io.close and io.flush on the default files.
local name = os.tmpname()
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if type(v) == "string" then v = string.format("%q", (v:gsub(name, "<tmp>", 1, true))) end
    if io.type(v) then v = io.type(v) .. (v == io.stdout and " stdout" or v == io.stdin and " stdin" or "") end
    t[i] = tostring(v)
  end
  print(table.concat(t, " ", 1, t.n))
end

show(io.input(), io.output(), io.stderr)
show(io.write("to stdout ", 1, " ", 1.5, "\n"))
print("print and io.write share stdout")
io.write("a") print("b") io.write("c\n")
show(io.output(name))
show(io.write("first\n"):write("second\n"))
show(io.close())
show(pcall(io.write, "x"))
show(pcall(io.flush))
show(io.output(io.stdout) == io.stdout)
show(io.input(name))
show(io.read("a"))
show(io.read("a"), io.read("l"), io.read(0))
show(io.close(io.input()))
show(pcall(io.read))
show(pcall(io.input, name .. ".missing"))
show(pcall(io.output, "/nonexistent-dir/x"))
show(pcall(io.input, {}))
show(pcall(io.close, 42))
io.input(io.stdin)
show(io.flush())
show(io.stdout:flush())
show(io.stdout:setvbuf("no"))
show(io.stdout:setvbuf("full", 1024))
show(io.stderr:write(""))
show(io.read())
show(io.read("a"))
show(io.read(0))
show(io.lines()())

local t = io.tmpfile()
show(t:write("temporary"), t:seek("set"), t:read("a"))
show(t:close())

os.remove(name)
