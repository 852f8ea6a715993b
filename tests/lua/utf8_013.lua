print(utf8.char(0x10FFFF):byte(1, -1))
print(utf8.len("\u{110000}"), utf8.len("\u{110000}", 1, -1, true))
