print(os.execute, os.exit == nil or true, os.remove, io)
