print(next({}, nil), type(next), rawlen({nil, 2}))
