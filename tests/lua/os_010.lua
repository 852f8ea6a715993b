print(os.date("!%F %T %D %R %e|%%", 951782400))
