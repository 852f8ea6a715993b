print(pcall(function() for p, c in utf8.codes("a\xffb") do print(p, c) end end))
