print(string.gsub("a,b,,c", ",", ";"), string.gsub("", "x", "y"))
