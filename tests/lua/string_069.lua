print(string.format("%.3g %.10g %#g %G %g", math.pi, math.pi, 1.0, 1e-10, -0.0))
