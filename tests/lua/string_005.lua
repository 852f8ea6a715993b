print(string.len(""), string.len("abc"), string.len("\0\0"), #"\0a")
