print(os.getenv("HOME_DOES_NOT_EXIST_X"), type(os.time()), type(os.clock()), math.type(os.time()))
