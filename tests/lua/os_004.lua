print(pcall(os.time, {year = 2020}))
