print(os.date("!%U %W %V %G %g %u", 1704067200), os.date("!%U %W %V", 1735603200))
