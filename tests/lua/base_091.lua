error("top level failure")
