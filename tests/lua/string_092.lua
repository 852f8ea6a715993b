print(#string.pack("i4", 100), string.unpack("i4", string.pack("i4", 100)))
