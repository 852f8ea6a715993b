local bin = function(n) local s = "" repeat s = (n % 2) .. s n = n // 2 until n == 0 return s end
print(bin(10), bin(255), bin(0))
