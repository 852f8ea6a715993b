print(string.format("%q %q %q", -1/0, 0/0 ~= 0/0, nil))
