-- require, package.path and the searchers, with modules in a temporary directory.
local dir = os.tmpname()
assert(os.remove(dir))
assert(os.execute("mkdir -p '" .. dir .. "/pkg' '" .. dir .. "/sub'"))
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if type(v) == "string" then v = string.format("%q", (v:gsub(dir, "<dir>", 1, true):gsub(dir, "<dir>"))) end
    t[i] = tostring(v)
  end
  print(table.concat(t, " ", 1, t.n))
end
local function write(path, text)
  local f = assert(io.open(dir .. "/" .. path, "w"))
  f:write(text)
  f:close()
end

write("plain.lua", "local name, file = ... loads = (loads or 0) + 1 return {name = name, file = file}")
write("pkg/init.lua", "return 'package ' .. select(1, ...)")
write("sub/mod.lua", "return ...")
write("nothing.lua", "x_from_nothing = ...")
write("falsy.lua", "return false")
write("self.lua", "package.loaded[...] = 'set by itself'")
write("broken.lua", "return +")
write("fails.lua", "error('failing module')")
write("#hash.lua", "return 'hash'")

package.path = dir .. "/?.lua;" .. dir .. "/?/init.lua"
local m, extra = require("plain")
show(m.name, m.file, extra, loads)
show(require("plain") == m, loads, package.loaded.plain == m)
show(require("pkg"))
show(require("sub.mod"))
show(require("nothing"), x_from_nothing)
show(require("falsy"), package.loaded.falsy)
show(require("self"))
show(pcall(require, "broken"))
show(pcall(require, "fails"))
show(pcall(require, "missing.module"))
show(require("#hash"))

-- preload and the searchers
package.preload.virtual = function(...) return {...} end
local v, data = require("virtual")
show(v[1], v[2], data)
show(#package.searchers, package.config)
table.insert(package.searchers, 2, function(name)
  if name == "custom" then return function(n, d) return n .. "/" .. d end, "data" end
  return "\n\tno custom module '" .. name .. "'"
end)
show(require("custom"))
show(pcall(require, "nowhere"))
table.remove(package.searchers, 2)
package.searchers[5] = function() return 42 end
show(pcall(require, "nowhere2"))
package.searchers[5] = nil

-- paths
show(package.searchpath("sub.mod", package.path))
show(package.searchpath("sub_mod", dir .. "/?.lua", "_", "/"))
show(package.searchpath("a.b.c", "x/?.lua;;y/?", "."))
show(package.searchpath("a::b", "?", "::", "-"))
show(package.searchpath("q", ""))
show(pcall(package.searchpath, "q"))
local path = package.path
package.path = nil
show(pcall(require, "no-path"))
package.path = path
package.cpath = 42
show(pcall(require, "cpath-number"))
package.searchers = nil
show(pcall(require, "no-searchers"))

assert(os.execute("rm -r '" .. dir .. "'"))
