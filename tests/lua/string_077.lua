print(string.format("%%"), string.format("100%% done"))
