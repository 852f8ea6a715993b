print(pcall(os.date, "%Q", 0))
