-- Strings of every length around the representation boundaries (short strings kept in the
-- string object, longer ones in a buffer; interned up to 40 bytes), made in different ways:
-- equal contents are equal strings and the same table key.
local t = {}
for n = 0, 50 do
  local a = string.rep("x", n)
  local b = ("x"):rep(n // 2) .. ("x"):rep(n - n // 2)
  local c = (string.rep("x", n) .. "yz"):sub(1, n)
  local bytes = {}
  for i = 1, n do bytes[i] = (i * 37) % 256 end
  local bin = string.char(table.unpack(bytes))
  assert(a == b and b == c and #a == n, n)
  t[a] = n
  t[bin] = -n
  assert(t[b] == n and t[c] == n, n)
  assert(t[string.char(table.unpack(bytes))] == -n, n)
  assert(bin:byte(-1) == (n > 0 and bytes[n] or nil))
  if n % 10 == 0 or (n >= 21 and n <= 24) or n == 40 or n == 41 then
    print(n, #a, #bin, bin == bin:sub(1), (bin .. ""):len(), a < a .. "x")
  end
end
local count = 0
for _ in pairs(t) do count = count + 1 end
print("keys", count)
print(("k" .. 12345678901234567) == "k12345678901234567", #("v" .. -9223372036854775807 - 1))
