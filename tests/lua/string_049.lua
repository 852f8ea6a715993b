print(string.gsub("1 2 3", "%d", function(d) return d * 2 end))
