print(utf8.char(), #utf8.char(0x7FFFFFFF), pcall(utf8.char, -1))
