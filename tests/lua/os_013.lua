print(os.difftime(10, 5), os.difftime(5), math.type(os.difftime(1, 1)))
