local f, err = load("return +")
print(f, type(err))
