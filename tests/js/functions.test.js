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

test('a state saved by the piccolo version loads: tables as they were, its functions refused by key', async (t) => {
  const { MemoryStore } = await import('../../host-js/lua-api.js');
  const { encodeKey } = await import('../../host-js/codec.js');
  const { keyString } = await import('../../host-js/tables.js');
  const store = new MemoryStore();
  const first = await LuaEngine.create({ wasm: wasmModule, store });
  first.computeSync('_home.n = 7 _home.t = { x = "kept" }');
  await first.save();
  const home = first.memoryTableId;
  first.close();
  // What the piccolo engine wrote: format 1, a function as its id list then piccolo bytes.
  store.metadata.format = 'lua-persist/1';
  const key = encodeKey('old');
  const payload = new Uint8Array([0, 0, 0, 0, 0x1b, 0x4c, 0x75, 0x61, 0x54, 0]);
  const value = new Uint8Array(5 + payload.length);
  value[0] = 0x05;
  new DataView(value.buffer).setUint32(1, payload.length, true);
  value.set(payload, 5);
  store.tables.get(home).set(keyString(key), { key, value });
  const again = await LuaEngine.create({ wasm: wasmModule, store });
  t.after(() => again.close());
  assert.deepEqual([...again.computeSync('return _home.n, _home.t.x')], [7, 'kept']);
  assert.throws(() => again.computeSync('return _home.old'),
    /key 'old': function stored by an earlier version \(piccolo format\) cannot be loaded; store it again/);
  again.computeSync('_home.old = function() return "new" end');
  await again.save();
  assert.equal(store.metadata.format, 'lua-persist/2');
});

test('the cell of a captured variable lasts while a stored function refers to it, in memory and in the store', async (t) => {
  const { MemoryStore } = await import('../../host-js/lua-api.js');
  const store = new MemoryStore();
  const first = await LuaEngine.create({ wasm: wasmModule, store });
  first.computeSync(`
    local n = 0
    function _home.inc() n = n + 1 return n end
    function _home.get() return n end
    function _home.set(v) n = v end
    local function fact(k) if k <= 1 then return 1 end return k * fact(k - 1) end
    _home.fact = fact                                 -- its cell holds fact itself`);
  const [nCell, factCell] = [...first.tables.cells].sort((a, b) => a - b);
  assert.equal(first.tables.cells.size, 2);
  first.computeSync('_home.inc = nil _home.fact = function() return "another" end');
  first.collectGarbage();
  assert.deepEqual([...first.tables.cells], [nCell], 'the cell only fact referred to is gone');
  assert.equal(first.tables.tables.has(factCell), false);
  assert.deepEqual([...first.computeSync('_home.set(5) return _home.get()')], [5], 'get and set still share n');
  await first.save();
  assert.deepEqual([store.tables.has(nCell), store.tables.has(factCell)], [true, false]);
  first.close();

  const second = await LuaEngine.create({ wasm: wasmModule, store });
  t.after(() => second.close());
  assert.deepEqual([...second.tables.cells], [nCell]);
  assert.deepEqual([...second.computeSync('_home.set(7) local v = _home.get() _home.set = nil return v')], [7]);
  second.collectGarbage();
  assert.deepEqual([...second.computeSync('_home.set = function() end return _home.get()')], [7], 'one function is enough');
  second.computeSync('_home.get = nil');
  second.collectGarbage();
  assert.equal(second.tables.cells.size, 0);
  assert.equal(second.tables.tables.has(nCell), false);
  await second.save();
  assert.equal(store.tables.has(nCell), false);
  const third = await LuaEngine.create({ wasm: wasmModule, store });
  t.after(() => third.close());
  assert.equal(third.tables.tables.has(nCell), false);
  assert.deepEqual([...third.computeSync('return _home.fact()')], ['another']);
});

test('cells of overwritten functions go after a run without collectGarbage, and the Lua heap stays flat', async (t) => {
  const lua = await LuaEngine.create({ wasm: wasmModule });
  t.after(() => lua.close());
  const overwrite = 'for i = 1, 5000 do local x = i _home.f = function() return x end end return _home.f()';
  const heap = [];
  for (let round = 0; round < 4; round++) {
    assert.deepEqual([...await lua.compute(overwrite)], [5000]);
    assert.equal(lua.tables.cells.size, 1);
    await lua.compute('collectgarbage()');
    heap.push(lua.memoryStats().luaHeapBytes);
  }
  assert.ok(heap[3] < heap[0] + 64 * 1024, `Lua heap ${heap.join(', ')}`);
  assert.ok(lua.tables.tables.size <= 3, `${lua.tables.tables.size} tables`);
});

test('a failed atomic run that deleted the last function of a cell brings both back', async (t) => {
  const lua = await LuaEngine.create({ wasm: wasmModule });
  t.after(() => lua.close());
  await lua.compute('local n = 1 function _home.get() return n end');
  await assert.rejects(lua.compute(`_home.get = nil
    for i = 1, 3000 do local x = i _home.f = function() return x end end   -- enough to collect
    error("undo")`, { atomic: true }), /undo/);
  assert.deepEqual([...await lua.compute('return _home.get(), _home.f')], [1, null]);
  lua.collectGarbage();
  assert.deepEqual([...await lua.compute('return _home.get()')], [1]);
});
