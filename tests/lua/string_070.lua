print(string.format("%a %a %A %.3a", 1.0, 0.5, 255.5, math.pi))
