print(math.floor(10 / 3), 10 // 3, math.floor(-10 / 3), -10 // 3)
