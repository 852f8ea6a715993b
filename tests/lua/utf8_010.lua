print(utf8.len("\u{D800}"), utf8.len("\u{D800}", 1, -1, true), utf8.codepoint("\u{7FFFFFFF}", 1, 1, true))
