#!/bin/sh
# Regenerates expected/<name>.out, .err and .status for the host scripts here from Debian's
# lua5.4, run from this directory as `lua5.4 <name>.lua` with empty standard input (or
# <name>.stdin when there is one).
set -eu
cd "$(dirname "$0")"
LUA=${LUA:-lua5.4}
mkdir -p expected
if [ "$#" -gt 0 ]; then set -- "$@"; else set -- *.lua; fi
for f in "$@"; do
  name=${f%.lua}
  input=/dev/null
  [ -f "$name.stdin" ] && input="$name.stdin"
  status=0
  "$LUA" "$name.lua" >"expected/$name.out" 2>"expected/$name.err" <"$input" || status=$?
  echo "$status" >"expected/$name.status"
  [ -s "expected/$name.err" ] || rm -f "expected/$name.err"
done
