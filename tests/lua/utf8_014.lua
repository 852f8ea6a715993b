print(utf8.offset("a€b", 2), utf8.offset("a€b", 3), utf8.offset("a€b", -2), utf8.offset("", 1), utf8.offset("", 0))
