print(getmetatable("abc").__index == string)
