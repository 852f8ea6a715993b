print(string.gsub("$name is $unknown", "%$(%w+)", {name = "Bob"}))
