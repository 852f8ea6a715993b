print(string.format("%d", "10"), string.format("%.1f", "2.25"), string.format("%x", 2^10))
