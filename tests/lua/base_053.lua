print(next({}))
print(next({7}))
