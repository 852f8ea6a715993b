print(string.packsize("i4i8"), string.packsize("!8i4i8"), string.packsize("bhi"), string.packsize("d"))
