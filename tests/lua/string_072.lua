print(string.format("%10s|%-10s|%.2s|%5.1s|", "abc", "abc", "abc", "abc"))
