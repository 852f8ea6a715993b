#!/bin/sh
# Regenerates tests/lua/expected/<name>.out (stdout) and <name>.status (exit code) by running
# Debian's lua5.4 on every tests/lua/<name>.lua (or only the names given as arguments).
# Programs run from this directory as `lua5.4 <name>.lua`, so chunk names match the engine's
# `@<name>.lua`. stderr (lua5.4's error report) is not recorded: the runner compares stdout.
set -eu
cd "$(dirname "$0")"
LUA=${LUA:-lua5.4}
command -v "$LUA" >/dev/null || { echo "need $LUA (apt-get install lua5.4)" >&2; exit 1; }
mkdir -p expected
if [ "$#" -gt 0 ]; then set -- "$@"; else set -- *.lua; fi
for f in "$@"; do
  name=${f%.lua}
  status=0
  "$LUA" "$name.lua" >"expected/$name.out" 2>/dev/null || status=$?
  echo "$status" >"expected/$name.status"
done
