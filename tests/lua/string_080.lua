print(string.format("%5.2s|", "abcdef"), string.format("[%3d]", 12345), string.format("%.3d", 7), string.format("%+.2e", 0))
