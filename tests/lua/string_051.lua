print(string.gsub("abc", "(a)(b)(c)", function(a, b, c) return c .. b .. a end))
