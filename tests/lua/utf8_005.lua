print(utf8.len("häll€"), utf8.len(""), utf8.len("abc", 2), utf8.len("\xff"), utf8.len("a\x80b"))
