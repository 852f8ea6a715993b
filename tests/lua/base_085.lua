goto skip
print("not printed")
::skip::
print("after goto")
