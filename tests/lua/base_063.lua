print(collectgarbage("incremental"), collectgarbage("generational"), collectgarbage("incremental"))
