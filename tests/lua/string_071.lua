print(string.format("%s %s %s %s", 1, 1.5, true, nil))
