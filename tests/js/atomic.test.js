// Atomic runs: a run that fails (error, limit, abort, trap) leaves every external table as it
// was, entry for entry and in the same order; a run that succeeds keeps everything.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LuaEngine, LuaError, LuaLimitError, AbiError, MemoryStore } from '../../host-js/lua-api.js';
import { ExternalTables, keyString } from '../../host-js/tables.js';
import { encodeKey } from '../../host-js/codec.js';
import { wasmModule } from './helpers.js';

async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

const SETUP = `
  _home.a = 1
  _home.s = "text"
  -- One key at a time: a plain table's keys are stored in hash order, which differs per engine.
  _home.t = {}
  _home.t.x = "kept"
  _home.t.inner = { v = "deep" }
  _home.t.list = { 10, 20, 30 }
  _home.alias = _home.t
  _home.big = {}
  for i = 1, 50 do _home.big["k" .. i] = i end
  local t = _home.t
  _home.f = function() return t.x end
`;

// Writes of every kind: overwrite, delete, nested, new tables, a function, `_io`.
const CHANGE = `
  _home.a = 2
  _home.s = nil
  _home.t.x = "changed"
  _home.t.inner.v = nil
  _home.t.inner.w = { 1, 2 }
  _home.t.list[2] = nil
  _home.big.k7 = nil
  _home.big.k8 = "eight"
  _home.big.k1 = nil
  _home.big.k1 = "back, at the end"
  _home.added = { fresh = { true } }
  _home.f = function() return _home.added end
  _io.out = "written"
`;

/** Every non-empty table (entries in iteration order), its references, and the byte count. */
function snapshot(lua) {
  const tables = [...lua.tables.tables].filter(([, t]) => t.size > 0).sort((a, b) => a[0] - b[0]);
  const hex = (b) => Buffer.from(b).toString('hex');
  const { externalBytes, externalTables, externalEntries } = lua.memoryStats();
  return {
    tables: tables.map(([id, t]) => [id, [...t.values()].map((e) => `${hex(e.key)}=${hex(e.value)}`)]),
    refs: tables.map(([id]) => [id, lua.tables.references(id).sort((x, y) => x - y)]),
    externalBytes, externalTables, externalEntries,
  };
}

test('an atomic run that raises an error leaves the external tables as they were', async (t) => {
  const lua = await engine(t);
  lua.computeSync(SETUP);
  lua.setIo({ input: 'in' });
  const before = snapshot(lua);
  await assert.rejects(lua.compute(`${CHANGE} error("boom")`, { atomic: true }), (e) => e instanceof LuaError && /boom/.test(e.message));
  assert.deepEqual(snapshot(lua), before);
  assert.throws(() => lua.computeSync(`${CHANGE} error("boom")`, { atomic: true }), LuaError);
  assert.deepEqual(snapshot(lua), before);
  assert.deepEqual([...lua.computeSync('return _home.a, _home.s, _home.t.x, _home.t.inner.v, _home.added, _home.f(), _io.out')],
    [1, 'text', 'kept', 'deep', null, 'kept', null]);
  // `_io` given with the run is the host's input: it stays, only the run's writes go.
  await assert.rejects(lua.compute(`${CHANGE} error("boom")`, { atomic: true, io: { input: 'new' } }), LuaError);
  assert.deepEqual(lua.getIo(), new Map([['input', 'new']]));
  // Without atomic, what a run wrote before its error stays.
  assert.throws(() => lua.computeSync(`${CHANGE} error("boom")`), LuaError);
  assert.deepEqual([...lua.computeSync('return _home.a, _home.s, _home.added.fresh[1]')], [2, null, true]);
});

test('an atomic run stopped by the instruction or the memory limit is undone', async (t) => {
  const counted = await engine(t, { instructionLimit: 200000 });
  counted.computeSync(SETUP);
  const before = snapshot(counted);
  await assert.rejects(counted.compute(`${CHANGE} while true do _home.spin = (_home.spin or 0) + 1 end`, { atomic: true }),
    (e) => e instanceof LuaLimitError && e.kind === 'instruction-limit');
  assert.deepEqual(snapshot(counted), before);

  // The engine option makes every run atomic.
  const capped = await engine(t, { memoryLimit: 4 * 1024 * 1024, atomic: true });
  capped.computeSync(SETUP);
  const cappedBefore = snapshot(capped);
  assert.throws(() => capped.computeSync(`${CHANGE} local t = {} for i = 1, 1e7 do t[i] = { i } end`),
    (e) => e instanceof LuaLimitError && e.kind === 'memory-limit');
  assert.deepEqual(snapshot(capped), cappedBefore);
  assert.equal(capped.computeSync('return _home.a')[0], 1);
});

test('an aborted atomic run is undone', async (t) => {
  const ac = new AbortController();
  let wroteBeforeAbort = false;
  const lua = await engine(t, {
    sliceMs: 1,
    // Output is flushed at the end of a slice: abort once the run has written something.
    onOutput: () => {
      wroteBeforeAbort = lua.readTable(lua.memoryTableId).get('a') === 2;
      ac.abort();
    },
  });
  lua.computeSync(SETUP);
  const before = snapshot(lua);
  await assert.rejects(lua.compute(`${CHANGE} print("written") while true do _home.spin = (_home.spin or 0) + 1 end`,
    { atomic: true, signal: ac.signal }), (e) => e.name === 'AbortError');
  assert.ok(wroteBeforeAbort, 'the run had written before it was aborted');
  assert.deepEqual(snapshot(lua), before);
});

test('deletes and nested writes are undone in place, and so is what the next save would write', async (t) => {
  const store = new MemoryStore();
  const lua = await engine(t, { store, atomic: true });
  lua.computeSync(SETUP);
  await lua.save();
  // One change the run did not make: it must still be saved after the undo.
  lua.computeSync('_home.s = "unsaved"');
  const before = snapshot(lua);
  const order = 'local ks = {} for k in pairs(_home.big) do ks[#ks + 1] = k end return table.concat(ks, ",")';
  const [keys] = lua.computeSync(order);
  await assert.rejects(lua.compute(`
    local ks = {} for k in pairs(_home.big) do ks[#ks + 1] = k end
    for _, k in ipairs(ks) do _home.big[k] = nil end
    _home.big.k25 = "re-added"
    _home.t.inner = nil
    _home.t.list[1] = nil
    _home.alias = nil
    _home.s = "changed again"
    error("late")`), LuaError);
  assert.deepEqual(snapshot(lua), before);
  assert.equal(lua.computeSync(order)[0], keys, 'pairs visits the keys in the same order');
  const { puts, deletes } = store.stats;
  await lua.save();
  assert.deepEqual([store.stats.puts - puts, store.stats.deletes - deletes], [1, 0], 'the save writes only _home.s');
  assert.equal(lua.unsaved, false);
  const again = await engine(t, { store });
  assert.deepEqual(snapshot(again), before);
});

test('tables made during a failed atomic run are gone; their ids are not reused', async (t) => {
  const lua = await engine(t, { atomic: true });
  lua.computeSync(SETUP);
  lua.computeSync('plain = { 1, 2 }');
  const before = snapshot(lua);
  const next = lua.memoryStats().nextTableId;
  assert.throws(() => lua.computeSync(`
    _home.fresh = { deep = { 1, 2, 3 } }
    g = ext.table() g.x = 1
    _home.t.sub = g
    _home.plain = plain
    error("after")`), LuaError);
  assert.deepEqual(snapshot(lua), before);
  assert.ok([...lua.tables.tables.keys()].every((id) => id < next), 'no table made by the run is left');
  // Lua globals are not rolled back: `g` still names the (now empty) table, and `plain`,
  // made external in place when it was stored, is empty too (as README says).
  assert.deepEqual([...lua.computeSync('return ext.id(g) >= ' + next + ', next(g), #plain, _home.fresh, _home.t.sub')],
    [true, null, 0, null, null]);
  const [fresh] = lua.computeSync('_home.fresh = {} return _home.fresh');
  assert.ok(fresh.id > lua.computeSync('return ext.id(g)')[0], 'a later table gets a new id');
});

test('a successful atomic run keeps everything a plain run would', async (t) => {
  const plain = await engine(t);
  const atomic = await engine(t, { atomic: true });
  for (const lua of [plain, atomic]) lua.computeSync(SETUP);
  await plain.compute(CHANGE);
  const r = await atomic.compute(`${CHANGE} return _home.a`);
  assert.equal(r[0], 2);
  assert.deepEqual(snapshot(atomic), snapshot(plain));
  assert.equal(atomic.tables.journal, null, 'no journal outlives its run');
  // A run can opt out of the engine's setting.
  assert.throws(() => atomic.computeSync('_home.kept = true error("x")', { atomic: false }), LuaError);
  assert.equal(atomic.computeSync('return _home.kept')[0], true);
});

test('an atomic run that traps, or whose onOutput throws, is undone too', async (t) => {
  const EXPLODE = keyString(encodeKey('explode'));
  class FragileTables extends ExternalTables {
    putEntry(id, entry) {
      if (entry.k === EXPLODE) throw new RangeError('Map maximum size exceeded');
      return super.putEntry(id, entry);
    }
  }
  const lua = await engine(t, { tables: new FragileTables(), atomic: true });
  lua.computeSync(SETUP);
  const before = snapshot(lua);
  assert.throws(() => lua.computeSync(`${CHANGE} _home.explode = 1`), (e) => e instanceof AbiError && e.trapped);
  assert.deepEqual(snapshot(lua), before);

  const failure = new Error('output sink broke');
  const noisy = await engine(t, { atomic: true, onOutput: () => { throw failure; } });
  noisy.computeSync(SETUP);
  const noisyBefore = snapshot(noisy);
  await assert.rejects(noisy.compute(`${CHANGE} print("x")`), (e) => e === failure);
  assert.deepEqual(snapshot(noisy), noisyBefore);
});

test('a bad atomic option is a TypeError and changes nothing', async (t) => {
  await assert.rejects(LuaEngine.create({ wasm: wasmModule, atomic: 'yes' }), (e) => e instanceof TypeError && /atomic.*boolean, got string/.test(e.message));
  const lua = await engine(t);
  lua.computeSync('_home.a = 1');
  await assert.rejects(lua.compute('_home.a = 2', { atomic: 1 }), TypeError);
  assert.throws(() => lua.computeSync('_home.a = 2', { atomic: null, io: { x: 1 } }), (e) => e instanceof TypeError && /got null/.test(e.message));
  assert.equal(lua.computeSync('return _home.a, _io.x').join(), '1,');
});
