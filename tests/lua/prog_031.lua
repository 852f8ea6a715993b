local function count(s, p) return select(2, s:gsub(p, "")) end
print(count("banana", "a"), count("banana", "an"), count("aaa", "a*"))
