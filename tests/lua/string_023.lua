print(string.match("THE (quick) fox", "%f[%a]%a+"), string.match("hello world", "%f[%w]%w+$"))
