#!/bin/sh
# Regenerates, for every tests/lua/<name>.lua (or only the names given as arguments), what
# Debian's lua5.4 does with it: expected/<name>.out (stdout), <name>.status (exit code) and,
# when it writes to stderr, <name>.err (the harness reads `lua5.4:` there as the runner's
# program name). Programs run from this directory as `lua5.4 <name>.lua` with empty standard
# input, so chunk names match the runner's `@<name>.lua`.
set -eu
cd "$(dirname "$0")"
LUA=${LUA:-lua5.4}
command -v "$LUA" >/dev/null || { echo "need $LUA (apt-get install lua5.4)" >&2; exit 1; }
mkdir -p expected
if [ "$#" -gt 0 ]; then set -- "$@"; else set -- *.lua; fi
for f in "$@"; do
  name=${f%.lua}
  status=0
  "$LUA" "$name.lua" >"expected/$name.out" 2>"expected/$name.err" </dev/null || status=$?
  echo "$status" >"expected/$name.status"
  [ -s "expected/$name.err" ] || rm -f "expected/$name.err"
done
