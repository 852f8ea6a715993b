print(1 < 2, "a" < "b", "Z" < "a", "abc" < "abd", "" < "a")
