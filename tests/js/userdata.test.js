// JS objects as userdata, LuaTable handles, and conversions both ways (issue 12, item 4).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  LuaEngine, LuaError, LuaReleasedError, LuaTable, LuaTableRef, AbiError,
} from '../../host-js/lua-api.js';
import { MemoryStore } from '../../host-js/stores/memory.js';
import { wasmModule } from './helpers.js';

async function engine(t, options = {}) {
  const e = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => e.close());
  return e;
}

class Counter {
  constructor(start) { this.count = start; }
  add(n) { this.count += n; return this; }
  async later(n) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return this.count * n;
  }
  get broken() { throw new RangeError('no such reading'); }
  fail() { throw new Error('method failed'); }
}

test('a class instance is a userdata: fields, methods with this, identity', async (t) => {
  const lua = await engine(t);
  const c = new Counter(1);
  await lua.global.set('c', c);
  await lua.global.set('same', c);
  const r = await lua.compute(`
    c.count = c.count + 1             -- read and write a field
    local back = c:add(10)            -- a method: this is c, and it returns c
    c.label = "new field"
    return type(c), c.count, rawequal(back, c), c == same, c.missing, tostring(c)`);
  assert.deepEqual([...r], ['userdata', 12, true, true, null, '[object Counter]']);
  assert.equal(c.count, 12);
  assert.equal(c.label, 'new field');
  // It comes back to JS as the same object: as a result, a global, an argument.
  assert.equal((await lua.compute('return c'))[0], c);
  assert.equal(await lua.global.get('c'), c);
  let got;
  await lua.global.set('take', (x) => { got = x; });
  await lua.compute('take(c)');
  assert.equal(got, c);
  // A Lua function called from JS receives it as the same userdata.
  const [isC] = await lua.compute('return function(x) return rawequal(x, c) end');
  assert.deepEqual([...await isC(c)], [true]);
});

test('other objects are userdata too; plain objects, arrays and Maps are copied', async (t) => {
  const lua = await engine(t);
  const date = new Date(Date.UTC(2024, 0, 2));
  const nested = new Counter(5);
  await lua.global.set('v', { date, list: [nested], map: new Map([['k', 1]]), bare: Object.create(null) });
  const r = await lua.compute(`
    return type(v), type(v.date), v.date:getUTCFullYear(), tostring(v.date) == v.date:toString(),
      type(v.list), v.list[1].count, v.map.k, type(v.bare)`);
  assert.deepEqual([...r], ['table', 'userdata', 2024, true, 'table', 5, 1, 'table']);
  // A getter giving a plain object gives a copy.
  await lua.global.set('holder', new (class { get settings() { return { a: 1 }; } })());
  assert.deepEqual([...await lua.compute('local s = holder.settings; s.a = 2; return holder.settings.a')], [1]);
});

test('a method returning a Promise makes Lua wait; throws are errors pcall catches', async (t) => {
  const lua = await engine(t);
  await lua.global.set('c', new Counter(3));
  const r = await lua.compute(`
    local n = c:later(2)
    local ok1, e1 = pcall(function() return c.broken end)
    local ok2, e2 = pcall(c.fail, c)
    local ok3, e3 = pcall(function() return c.count() end)
    return n, ok1, e1, ok2, e2, ok3`);
  assert.deepEqual([...r], [6, false, 'no such reading', false, 'method failed', false]);
  await assert.rejects(lua.compute('return c.broken'), (e) => e instanceof LuaError && /no such reading/.test(e.message));
  // computeSync cannot wait for the host, so a field read fails there.
  assert.throws(() => lua.computeSync('return c.count'), LuaError);
});

test('a userdata cannot be stored in _home or an external table', async (t) => {
  const lua = await engine(t);
  await lua.global.set('c', new Counter(1));
  await assert.rejects(lua.compute('_home.c = c'),
    (e) => e instanceof LuaError && /cannot store a userdata in an external table/.test(e.message));
  await assert.rejects(lua.compute('_home.t = {c}'), /cannot store a userdata/);
  const home = lua.getTable(lua.memoryTableId);
  await assert.rejects(home.set('c', new Counter(2)), /cannot store a userdata/);
  assert.deepEqual([...await lua.compute('return next(_home)')], [null]);
});

test('the engine lets go of an object once Lua has collected its userdata', async (t) => {
  const lua = await engine(t);
  const c = new Counter(1);
  await lua.global.set('c', c);
  await lua.global.set('again', c);
  await lua.global.set('other', new Counter(2));
  const held = lua.memoryStats().hostObjects;
  assert.equal(held, 2);
  await lua.compute('c = nil; other = nil');
  lua.collectGarbage();
  // `again` still holds c.
  assert.equal(lua.memoryStats().hostObjects, held - 1);
  assert.deepEqual([...await lua.compute('return again.count')], [1]);
  await lua.compute('again = nil');
  lua.collectGarbage();
  assert.equal(lua.memoryStats().hostObjects, 0);
  // Given again, it is a new userdata, and works as before.
  await lua.global.set('c', c);
  assert.deepEqual([...await lua.compute('return c.count')], [1]);
  assert.equal(lua.memoryStats().hostObjects, 1);
});

test('a fresh state lets go of every object', async (t) => {
  const lua = await engine(t, { store: new MemoryStore() });
  await lua.global.set('c', new Counter(1));
  lua.reset();
  assert.equal(lua.memoryStats().hostObjects, 0);
  await lua.global.set('c', new Counter(1));
  await lua.save();
  await lua.load();
  assert.equal(lua.memoryStats().hostObjects, 0);
});

test('LuaTable reads and writes a plain table in place', async (t) => {
  const lua = await engine(t);
  await lua.compute('config = { 10, 20, name = "x", sub = { deep = 1 } }');
  const config = await lua.global.getTable('config');
  assert.ok(config instanceof LuaTable);
  assert.equal(config.id, null);
  assert.equal(await config.get('name'), 'x');
  assert.equal(await config.length(), 2);
  await config.set(3, 30);
  await config.set('name', null);
  await config.set('obj', new Counter(7));
  assert.deepEqual([...await lua.compute('return #config, config.name, config.obj.count')], [3, null, 7]);
  const sub = await config.getTable('sub');
  await sub.set('deep', 2);
  assert.deepEqual([...await lua.compute('return config.sub.deep')], [2]);
  const entries = [];
  for await (const [k, v] of config) entries.push([k, v instanceof Map ? 'table' : v]);
  assert.equal(entries.length, 5);
  assert.deepEqual(entries.filter(([k]) => typeof k === 'number'), [[1, 10], [2, 20], [3, 30]]);
  const keys = [];
  for await (const k of config.keys()) keys.push(k);
  assert.deepEqual(keys, entries.map(([k]) => k));
  // Passed back to Lua it is the table itself.
  await lua.global.set('alias', config);
  assert.deepEqual([...await lua.compute('return rawequal(alias, config)')], [true]);
  await assert.rejects(config.getTable('name'), (e) => e instanceof LuaError && /field 'name' is not a table/.test(e.message));
  await assert.rejects(lua.global.getTable('missing'), (e) => e instanceof LuaError && /global 'missing' is not a table/.test(e.message));
});

test('LuaTable iterates a large table in pages', async (t) => {
  const lua = await engine(t);
  await lua.compute('big = {} for i = 1, 1000 do big[i] = i * 2 end');
  const big = await lua.global.getTable('big');
  let n = 0;
  let sum = 0;
  for await (const [k, v] of big) { n++; sum += v - 2 * k; }
  assert.deepEqual([n, sum], [1000, 0]);
  // Leaving the loop early is fine too.
  for await (const [k] of big) if (k === 3) break;
  assert.equal(await big.length(), 1000);
});

test('LuaTable works after a script replaced the raw functions it is built on', async (t) => {
  const lua = await engine(t);
  await lua.compute('t = {1, 2, x = 3} rawget, rawset, rawlen, next, type, error = nil, nil, nil, nil, nil, nil');
  const table = await lua.global.getTable('t');
  await table.set('y', 4);
  assert.deepEqual([await table.get('x'), await table.get('y'), await table.length()], [3, 4, 2]);
  const keys = [];
  for await (const [k] of table) keys.push(k);
  assert.deepEqual(keys.sort(), [1, 2, 'x', 'y'].sort());
  await assert.rejects(lua.global.getTable('nothing'), (e) => e instanceof LuaError && /global 'nothing' is not a table/.test(e.message));
});

test('LuaTable reads and writes an external table in place', async (t) => {
  const lua = await engine(t);
  await lua.compute('_home.list = { "a", "b" }; _home.n = 2^60');
  const home = await lua.global.getTable('_home');
  assert.equal(home.id, lua.memoryTableId);
  assert.equal(await home.get('n'), 2 ** 60);
  const ref = await home.get('list');
  assert.ok(ref instanceof LuaTableRef);
  const list = lua.getTable(ref);
  assert.equal(await list.length(), 2);
  await list.set(3, 'c');
  await home.set('plain', { x: [1, 2] });
  await home.set('big', 2n ** 62n);
  assert.deepEqual([...await lua.compute('return #_home.list, _home.plain.x[2], ext.id(_home.plain) ~= nil, _home.big')],
    [3, 2, true, 2n ** 62n]);
  const entries = new Map();
  for await (const [k, v] of home) entries.set(k, v);
  assert.deepEqual([...entries.keys()].sort(), ['big', 'list', 'n', 'plain']);
  assert.deepEqual(lua.readTable(list.id), new Map([[1, 'a'], [2, 'b'], [3, 'c']]));
  assert.equal((await lua.getTable(lua.memoryTableId).getTable('list')).id, list.id);
  await assert.rejects(lua.getTable(99999).get(1), (e) => e instanceof AbiError && /external table 99999 was never allocated/.test(e.message));
  assert.throws(() => lua.getTable(-1), TypeError);
});

test('a disposed or replaced LuaTable rejects with LuaReleasedError', async (t) => {
  const lua = await engine(t, { store: new MemoryStore() });
  await lua.compute('t = {1}');
  const a = await lua.global.getTable('t');
  const b = await lua.global.getTable('t');
  a.dispose();
  a.dispose();
  await assert.rejects(a.get(1), (e) => e instanceof LuaReleasedError && e.reason === 'disposed' && /Lua table/.test(e.message));
  await assert.rejects(lua.global.set('x', a), (e) => e instanceof LuaReleasedError);
  assert.equal(await b.get(1), 1);
  const home = lua.getTable(lua.memoryTableId);
  lua.reset();
  await assert.rejects(b.length(), (e) => e instanceof LuaReleasedError && e.reason === 'replaced');
  // An external table is an id: it outlives the state, as a LuaTableRef does.
  await home.set('x', 1);
  lua.close();
  await assert.rejects(home.get('x'), AbiError);
  assert.throws(() => lua.getTable(1), AbiError);
});

test('big integers and bytes that are not UTF-8 cross every path both ways', async (t) => {
  const lua = await engine(t);
  const big = 2n ** 60n + 1n;
  const bytes = new Uint8Array([0xff, 0x00, 0xfe]);
  let seen;
  await lua.global.set('echo', (...args) => { seen = args; return args; });
  await lua.global.set('big', big);
  await lua.global.set('bytes', bytes);
  const r = await lua.compute(`
    local back = echo(big, bytes, math.mininteger, "\\xff")
    return math.type(big), #bytes, back[1] == big, back[2] == bytes, back[3], math.type(back[3])`);
  assert.deepEqual([...r], ['integer', 3, true, true, -(2n ** 63n), 'integer']);
  assert.deepEqual(seen, [big, bytes, -(2n ** 63n), new Uint8Array([0xff])]);
  assert.equal(await lua.global.get('big'), big);
  assert.deepEqual(await lua.global.get('bytes'), bytes);
  const [f] = await lua.compute('return function(a, b) return a, b, math.type(a), #b end');
  assert.deepEqual([...await f(big, bytes)], [big, bytes, 'integer', 3]);
  const g = await lua.global.getTable('_G');
  await g.set('k', -(2n ** 63n));
  assert.equal(await g.get('k'), -(2n ** 63n));
  await lua.global.set('holder', new (class { constructor() { this.b = big; this.s = bytes; } })());
  assert.deepEqual([...await lua.compute('return holder.b, holder.s')], [big, bytes]);
  // Numbers: safe integers stay integers, others are floats.
  await lua.global.set('nums', [1, 2 ** 53 + 2, 0.5]);
  assert.deepEqual([...await lua.compute('return math.type(nums[1]), math.type(nums[2]), math.type(nums[3])')],
    ['integer', 'float', 'float']);
  lua.registerModule('m', { n: -(2n ** 63n) });
  assert.deepEqual([...await lua.compute('return math.type(require("m").n), require("m").n')], ['integer', -(2n ** 63n)]);
  await assert.rejects(lua.global.set('x', 2n ** 64n), /64-bit range/);
});
