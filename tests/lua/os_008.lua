print(os.date("!%c", 1234567890))
print(os.date("!%x %X %p %I", 1234567890))
