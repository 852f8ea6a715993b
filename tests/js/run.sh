#!/bin/sh
# The JS and browser suites. Set LUA_PERSIST_WASM to test another module than dist/lua.wasm.
set -e
cd "$(dirname "$0")/../.."
node --test tests/js/
cd tests/browser
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
node --test .
