print(pcall(function() assert(false, {1}) end) == false)
