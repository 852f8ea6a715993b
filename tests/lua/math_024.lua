math.randomseed(99)
for i = 1, 5 do print(string.format("%.10f", math.random())) end
