local s = "日本語"
print(#s, utf8.len(s))
for p, c in utf8.codes(s) do print(p, utf8.char(c)) end
