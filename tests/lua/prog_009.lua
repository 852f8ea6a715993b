local primes = {}
for n = 2, 60 do local p = true for _, q in ipairs(primes) do if n % q == 0 then p = false break end end if p then primes[#primes + 1] = n end end
print(table.concat(primes, " "))
