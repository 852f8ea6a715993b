print(string.format("%-20s|", "left"), string.format("%20s|", "right"))
