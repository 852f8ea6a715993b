print(string.match("[test]", "%[(.*)%]"), string.match("a.b", "a%.b"), string.match("f(a(b)c)", "%b()"))
