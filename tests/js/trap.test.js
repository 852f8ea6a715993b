// A module that traps (or has an exception unwind through it) loses no external data: the
// engine re-instantiates, re-attaches _home and carries on.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LuaEngine, AbiError, LuaLimitError, MemoryStore } from '../../host-js/lua-api.js';
import { ExternalTables, keyString } from '../../host-js/tables.js';
import { encodeKey } from '../../host-js/codec.js';
import { wasmModule } from './helpers.js';

/** Tables whose `set` throws for one key, as a host quota or a full Map would. */
class FragileTables extends ExternalTables {
  putEntry(id, entry) {
    if (entry.k === EXPLODE) throw new RangeError('Map maximum size exceeded');
    return super.putEntry(id, entry);
  }
}
const EXPLODE = keyString(encodeKey('explode'));

async function checkRecovered(lua) {
  const [a, x, sameRef, g] = lua.computeSync('return _home.a, _home.t.x, _home.t == _home.alias, g');
  assert.deepEqual([a, x, sameRef, g], [1, 'kept', true, null], 'external data intact, other globals gone');
  // New tables never reuse an id the dead instance handed out.
  const ids = new Set(lua.tables.tables.keys());
  const [fresh] = lua.computeSync('_home.fresh = { 1 } return _home.fresh');
  assert.ok(!ids.has(fresh.id), `new table id ${fresh.id} collides`);
  assert.equal(lua.memoryTableId, lua.computeSync('return _home')[0].id);
}

test('an exception thrown by an import mid-compute: the engine restarts with its data', async (t) => {
  const store = new MemoryStore();
  const lua = await LuaEngine.create({ wasm: wasmModule, tables: new FragileTables(), store });
  t.after(() => lua.close());
  lua.computeSync('_home.a = 1 _home.t = { x = "kept" } _home.alias = _home.t g = "global"');
  await lua.save();
  for (const run of [(code) => lua.computeSync(code), (code) => lua.compute(code)]) {
    await assert.rejects(async () => run('local big = {} for i = 1, 100 do big[i] = i end _home.explode = 1'), (e) => {
      assert.ok(e instanceof AbiError);
      assert.equal(e.trapped, true);
      assert.ok(e.cause instanceof RangeError);
      return true;
    });
    await checkRecovered(lua);
    lua.computeSync('g = nil _home.fresh = nil');
  }
  // Saving after the restart is still incremental and consistent.
  lua.computeSync('_home.after = "yes"');
  await lua.save();
  const again = await LuaEngine.create({ wasm: wasmModule, store });
  t.after(() => again.close());
  assert.deepEqual([...again.computeSync('return _home.a, _home.t.x, _home.after')], [1, 'kept', 'yes']);
});

test('exhausting linear memory is no trap: the run ends in a memory error and nothing is lost', async (t) => {
  // It used to trap: allocations past what wasm32 can address aborted. The heap cap (at most
  // 2 GiB) and the allocator's headroom now stop it first (tests/js/limits.test.js).
  const lua = await LuaEngine.create({ wasm: wasmModule, memoryLimit: 0xffffffff });
  t.after(() => lua.close());
  lua.computeSync('_home.a = 1 _home.t = { x = "kept" } _home.alias = _home.t g = "global"');
  // A 1 GiB string (under the VM's longest) and four copies: together past 4 GiB.
  await assert.rejects(lua.compute('local s = string.rep("x", 2^20) for i = 1, 10 do s = s .. s end local t = {} for i = 1, 4 do t[i] = s .. i end return #t'), (e) => {
    assert.ok(e instanceof LuaLimitError, `${e.name}: ${e.message}`);
    assert.match(e.message, /^not enough memory/);
    return true;
  });
  const [a, x, sameRef, g] = lua.computeSync('return _home.a, _home.t.x, _home.t == _home.alias, g');
  assert.deepEqual([a, x, sameRef, g], [1, 'kept', true, 'global']);
});
