print(string.unpack("j", string.pack("j", math.mininteger)), string.unpack("J", string.pack("J", -1)))
