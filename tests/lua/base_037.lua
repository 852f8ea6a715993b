print(pcall(function(...) return select("#", ...) end, 1, nil, 3))
