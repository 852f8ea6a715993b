print(string.len(123), string.upper(1.5), string.rep(1, 3))
