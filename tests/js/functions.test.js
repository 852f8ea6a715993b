// Functions stored in _home survive save -> new instance -> load -> call (issue 5).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { LuaEngine } from '../../host-js/lua-api.js';
import { FileStore } from '../../host-js/stores/file.js';
import { wasmModule, tempDir } from './helpers.js';

test('functions, their upvalues and builtins come back in a new instance', async (t) => {
  const store = new FileStore(await tempDir(t));
  const first = await LuaEngine.create({ wasm: wasmModule, store });
  first.computeSync(`
    function _home.calc(x) return x * 2 end
    local greeting = "hello"
    local settings = { punctuation = "!" }          -- reachable only through the upvalue
    _home.cfg = { name = "world" }
    local cfg = _home.cfg
    _home.greet = function() return greeting .. ", " .. cfg.name .. settings.punctuation end
    local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
    _home.fact = fact
    _home.p = print
    _home.fmt = string.format`);
  await first.save();
  first.close();

  const second = await LuaEngine.create({ wasm: wasmModule, store });
  t.after(() => second.close());
  const results = second.computeSync(`
    greeting = "ignored: upvalues are captured by value"
    _home.cfg.name = "ada"                           -- tables are shared by reference
    _home.p("printed by a stored builtin")
    return _home.calc(21), _home.greet(), _home.fact(6), _home.p == print, _home.fmt("%03d", 7)`);
  assert.deepEqual([...results], [42, 'hello, ada!', 720, true, '007']);
  assert.equal(results.output, 'printed by a stored builtin\n');
});

test('a closure over a coroutine is refused and nothing is written', async (t) => {
  const lua = await LuaEngine.create({ wasm: wasmModule });
  t.after(() => lua.close());
  assert.throws(() => lua.computeSync('local co = coroutine.create(print) _home.f = function() return co end'),
    /cannot store a function with a coroutine upvalue/);
  assert.deepEqual([...lua.computeSync('return _home.f')], [null]);
});

test('binary chunks load only when the host allows them', async (t) => {
  const sandboxed = await LuaEngine.create({ wasm: wasmModule });
  t.after(() => sandboxed.close());
  const code = 'local bin = string.dump(function(a) return a + 1 end) return load(bin)';
  assert.deepEqual([...sandboxed.computeSync(code)], [null, 'binary chunks are disabled by the host']);
  const open = await LuaEngine.create({ wasm: wasmModule, binaryChunks: true });
  t.after(() => open.close());
  assert.deepEqual([...open.computeSync(code.replace('return load(bin)', 'return load(bin)(41)'))], [42]);
  const [ok, err] = open.computeSync("return load('\\27LPF\\1garbage')");
  assert.equal(ok, null);
  assert.match(err, /binary chunk/);
});
