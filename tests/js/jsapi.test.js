// engine.global and Lua functions called from JS (issue 12, items 1 and 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { LuaEngine, LuaError, LuaLimitError, LuaReleasedError, LuaTableRef, AbiError } from '../../host-js/lua-api.js';
import { MemoryStore } from '../../host-js/stores/memory.js';
import { wasmModule } from './helpers.js';

async function engine(t, options = {}) {
  const e = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => e.close());
  return e;
}

test('global.get and global.set convert values as compute does', async (t) => {
  const lua = await engine(t);
  await lua.global.set('n', 42);
  await lua.global.set('big', 2n ** 60n);
  await lua.global.set('s', 'héllo');
  await lua.global.set('list', [1, 'two', { three: 3 }]);
  assert.deepEqual([...await lua.compute("return n, math.type(n), big, s, list[2], list[3].three, #list")],
    [42, 'integer', 2n ** 60n, 'héllo', 'two', 3, 3]);
  await lua.compute('t = {10, 20}; m = {a = 1}; x = 1.5');
  assert.deepEqual(await lua.global.get('t'), [10, 20]);
  assert.deepEqual(await lua.global.get('m'), new Map([['a', 1]]));
  assert.equal(await lua.global.get('x'), 1.5);
  assert.equal(await lua.global.get('missing'), null);
  assert.ok(await lua.global.get('_home') instanceof LuaTableRef);
  await lua.global.set('n', null);
  assert.deepEqual([...await lua.compute('return n')], [null]);
});

test('global.set refuses _home and values it cannot convert', async (t) => {
  const lua = await engine(t);
  await assert.rejects(lua.global.set('_home', 1), (e) => e instanceof LuaError && /cannot assign to '_home'/.test(e.message));
  await assert.rejects(lua.global.set('s', Symbol('x')), /cannot encode a symbol/);
  // The engine goes on.
  assert.deepEqual([...await lua.compute('return 1')], [1]);
});

test('a Lua function reaches JS as an async function resolving like compute', async (t) => {
  const lua = await engine(t);
  await lua.compute('function add(a, b) print("adding"); return a + b, {a, b} end');
  const add = await lua.global.get('add');
  assert.equal(typeof add, 'function');
  const r = await add(1, 2);
  assert.deepEqual([...r], [3, [1, 2]]);
  assert.equal(r.output, 'adding\n');
  // From a result and from a table field.
  const [mul, t2] = await lua.compute('return function(a, b) return a * b end, {f = function() return "field" end}');
  assert.deepEqual([...await mul(6, 7)], [42]);
  assert.deepEqual([...await t2.get('f')()], ['field']);
  // A handle passed back to Lua is the function itself.
  await lua.global.set('add2', add);
  assert.deepEqual([...await lua.compute('return add2 == add, add2(2, 3)')], [true, 5, [2, 3]]);
  const twice = (await lua.compute('return function(f, x) return f(f(x, 1), 1) end'))[0];
  assert.deepEqual([...await twice(add, 5)].slice(0, 1), [7]);
});

test('errors in a called Lua function reject with LuaError', async (t) => {
  const lua = await engine(t);
  const [f] = await lua.compute('return function(x) error("bad " .. x) end');
  await assert.rejects(f('input'), (e) => e instanceof LuaError && e.kind === 'runtime' && /bad input/.test(e.message));
  assert.deepEqual([...await lua.compute('return 1')], [1]);
});

test('a called Lua function runs in slices under the engine limits and signal', async (t) => {
  const lua = await engine(t, { instructionLimit: 100000 });
  const [spin] = await lua.compute('return function() while true do end end');
  await assert.rejects(spin(), (e) => e instanceof LuaLimitError && e.kind === 'instruction-limit');
  const big = await engine(t, { memoryLimit: 2 * 1024 * 1024 });
  const [grow] = await big.compute('return function() local t = {} for i = 1, 1e7 do t[i] = {} end end');
  await assert.rejects(grow(), (e) => e instanceof LuaLimitError && e.kind === 'memory-limit');
  const free = await engine(t);
  const [loop] = await free.compute('return function() while true do end end');
  const controller = new AbortController();
  let ticks = 0;
  const timer = setInterval(() => { if (++ticks === 3) controller.abort(); }, 5);
  await assert.rejects(loop.callWith({ signal: controller.signal }), (e) => e.name === 'AbortError');
  clearInterval(timer);
  assert.ok(ticks >= 3, 'the event loop ran while the function ran');
  assert.deepEqual([...await free.compute('return 2')], [2]);
});

test('a disposed function throws LuaReleasedError; others still work', async (t) => {
  const lua = await engine(t);
  const [f, g] = await lua.compute('return function() return 1 end, function() return 2 end');
  f.dispose();
  f.dispose();
  await assert.rejects(f(), (e) => e instanceof LuaReleasedError && e.reason === 'disposed');
  await assert.rejects(lua.global.set('x', f), (e) => e instanceof LuaReleasedError);
  assert.deepEqual([...await g()], [2]);
});

test('a function sees the state as it is when called', async (t) => {
  const lua = await engine(t);
  await lua.compute('counter = 0; function bump() counter = counter + 1; return counter end');
  const bump = await lua.global.get('bump');
  await bump();
  await lua.compute('counter = 10');
  assert.deepEqual([...await bump()], [11]);
  await lua.compute('function bump() return "redefined" end');
  // The handle holds the function it was given, not the global's name.
  assert.deepEqual([...await bump()], [12]);
});

test('handles end with their state: reset, load, close', async (t) => {
  const lua = await engine(t, { store: new MemoryStore() });
  const [f] = await lua.compute('return function() return 1 end');
  lua.reset();
  await assert.rejects(f(), (e) => e instanceof LuaReleasedError && e.reason === 'replaced');
  f.dispose(); // harmless
  const [g] = await lua.compute('return function() return 2 end');
  await lua.save();
  await lua.load();
  await assert.rejects(g(), (e) => e instanceof LuaReleasedError && e.reason === 'replaced');
  const [h] = await lua.compute('return function() return 3 end');
  lua.close();
  await assert.rejects(h(), AbiError);
  assert.throws(() => lua.global, AbiError);
});

test('a call queued behind compute runs after it', async (t) => {
  const lua = await engine(t);
  const [get] = await lua.compute('return function() return v end');
  const set = lua.compute('v = "set"');
  assert.deepEqual([...await get()], ['set']);
  await set;
});
