local t = {year = 2022, month = 3, day = 40, hour = 12}
local ts = os.time(t)
print(ts, t.month, t.day, t.yday, t.wday)
