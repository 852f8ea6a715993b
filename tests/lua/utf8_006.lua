print(utf8.offset("häll€", 3), utf8.offset("häll€", -1), utf8.offset("häll€", 0, 3), utf8.offset("abc", 5))
