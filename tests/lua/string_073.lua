print(string.format("%q", "hello \"world\"\n\0end\1\0012"))
