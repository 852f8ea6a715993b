print(os.date("!%H", 3600 * 5), os.date("!%M", 60 * 7))
