print(os.date("!%Y-%m-%d %H:%M:%S", 0))
