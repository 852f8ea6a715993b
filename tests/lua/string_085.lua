print(string.format("%g %g %g", 1/0, -1/0, 2^63))
