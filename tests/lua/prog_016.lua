local function varargs(...) local t = table.pack(...) return t.n, select("#", ...) end
print(varargs(nil, nil, nil))
