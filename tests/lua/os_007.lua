print(os.date("!%a %A %b %B %d %j %w %y", 1234567890))
