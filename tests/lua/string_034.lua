print(string.match(string.rep("a", 12), string.rep("a?", 12) .. string.rep("a", 12)))
