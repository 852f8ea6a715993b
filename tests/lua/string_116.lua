print(("hello world"):gsub("(%w+)", "%1!"))
