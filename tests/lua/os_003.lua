print(os.time({year = 2021, month = 13, day = 1, hour = 0}), os.time({year = 2021, month = 1, day = 0, hour = 0}))
