print(collectgarbage("collect"), collectgarbage(), type(collectgarbage("count")), collectgarbage("isrunning"))
