print(string.match("\n\t x", "%s+"), string.match("Ab1_", "%w+"), string.match("a,b;c", "%p"), string.match("\1x", "%c"))
