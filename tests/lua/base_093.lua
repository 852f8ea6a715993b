print("line1")
assert(1 == 2, "assert message")
