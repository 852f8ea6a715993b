print(pcall(rawset, {}, nil, 1))
