print(8 // 3 * 3 + 8 % 3, 2^3^2, -2^2, not nil == true)
