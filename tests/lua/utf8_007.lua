for p, c in utf8.codes("aé€") do print(p, c) end
