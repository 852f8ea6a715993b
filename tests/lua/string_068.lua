print(string.format("%g %g %g %g %g %g", 1e20, 0.0001, 0.00001, 123456, 1234567, 100))
