print(rawequal(1, 1.0), rawequal("a", "a"), rawequal({}, {}), rawequal(nil, nil))
