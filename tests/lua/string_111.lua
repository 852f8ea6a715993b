print(string.find("abc", "b", nil, nil), ("abc"):find("c", -1))
