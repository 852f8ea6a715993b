// `unsaved`: whether the state changed since the last save or load.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LuaEngine, MemoryStore, StoreError } from '../../host-js/lua-api.js';
import { wasmModule } from './helpers.js';

test('unsaved follows writes, saves, loads and resets', async (t) => {
  const store = new MemoryStore();
  const lua = await LuaEngine.create({ wasm: wasmModule, store });
  t.after(() => lua.close());
  assert.equal(lua.unsaved, false);
  lua.computeSync('local x = _home.nothing return x');
  assert.equal(lua.unsaved, false, 'reads change nothing');
  lua.computeSync('_io.scratch = 1');
  assert.equal(lua.unsaved, false, '_io is never saved');
  lua.computeSync('_home.a = 1');
  assert.equal(lua.unsaved, true);
  await lua.save();
  assert.equal(lua.unsaved, false);
  lua.computeSync('_home.a = nil');
  assert.equal(lua.unsaved, true, 'a delete is a change');
  assert.equal(await lua.load(), true);
  assert.equal(lua.unsaved, false);
  lua.reset();
  assert.equal(lua.unsaved, true, 'the store still holds the state reset() dropped');
  await lua.save();
  assert.equal(lua.unsaved, false);

  // A failed save keeps the changes unsaved.
  lua.computeSync('_home.b = 2');
  const save = store.save;
  store.save = async () => { throw new Error('disk full'); };
  await assert.rejects(lua.save(), StoreError);
  assert.equal(lua.unsaved, true);
  store.save = save;
  await lua.save();
  assert.equal(lua.unsaved, false);
});

test('unsaved is false without a store', async (t) => {
  const lua = await LuaEngine.create({ wasm: wasmModule });
  t.after(() => lua.close());
  lua.computeSync('_home.a = 1');
  lua.reset();
  assert.equal(lua.unsaved, false);
});
