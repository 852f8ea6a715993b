print(string.upper("Hello World 123"), string.lower("Hello World 123"), string.reverse("abc"), string.reverse(""))
