print(("%d-%d"):format(1, 2))
