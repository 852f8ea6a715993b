print(#tostring(12345.678), tostring(12345.678))
