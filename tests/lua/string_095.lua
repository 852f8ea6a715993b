local s = string.pack("z", "hello")
print(#s, string.unpack("z", s))
