print(string.format("% d % d", 5, -5), string.format("%+5d", 5), string.format("%-+5d|", 5), string.format("%05.1f", -2.5))
