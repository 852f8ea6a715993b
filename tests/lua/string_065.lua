print(string.format("%c%c%c", 76, 117, 97), string.format("%5c|%-5c|", 65, 66))
