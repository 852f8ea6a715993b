local s = string.pack("s1", "abc")
print(#s, string.unpack("s1", s))
