print(unpack, loadstring, setfenv, getfenv, table.getn, string.gfind)
