local function serialize(v)
  if type(v) == "table" then
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. serialize(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return string.format("%q", v)
end
print(serialize({a = 1, b = {c = "x", d = true}, [1] = 2.5}))
