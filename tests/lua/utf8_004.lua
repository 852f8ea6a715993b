print(utf8.codepoint("häll€"), utf8.codepoint("häll€", 1, -1))
