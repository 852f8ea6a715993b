print(os.time({year = 2000, month = 2, day = 29}))
