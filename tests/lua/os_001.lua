print(os.time({year = 2020, month = 1, day = 1, hour = 0}))
