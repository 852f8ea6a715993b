print(utf8.charpattern == "[\0-\x7F\xC2-\xFD][\x80-\xBF]*")
