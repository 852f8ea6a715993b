// Stores: round trips, incremental saves, unreachable tables, damaged state, atomicity.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LuaEngine, MemoryStore, StoreError } from '../../host-js/lua-api.js';
import { FileStore } from '../../host-js/stores/file.js';
import { wasmModule, tempDir, ROOT } from './helpers.js';

async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

const stores = {
  memory: async () => new MemoryStore(),
  file: async (t) => new FileStore(await tempDir(t)),
};

const STATE = `
  _home.n = 42; _home.f = 1.5; _home.s = "text\\0bytes"; _home.yes = true
  _home[1] = "one"; _home["1"] = "string one"; _home[2.0] = "two"
  local shared = { x = 1 }
  _home.a = shared; _home.b = shared
  local cyc = {}; cyc.self = cyc; _home.cyc = cyc
  _home.deep = { l1 = { l2 = { l3 = "bottom" } } }
`;
const CHECK = `return _home.n, _home.f, _home.s, _home.yes, _home[1], _home["1"], _home[2],
  _home.a == _home.b, _home.a.x, _home.cyc.self == _home.cyc, _home.deep.l1.l2.l3, Memory == _home`;
const EXPECTED = [42, 1.5, 'text\0bytes', true, 'one', 'string one', 'two', true, 1, true, 'bottom', true];

for (const [name, make] of Object.entries(stores)) {
  test(`${name} store: a state round-trips into a new engine`, async (t) => {
    const store = await make(t);
    const a = await engine(t, { store });
    a.computeSync(STATE);
    await a.save();
    const b = await engine(t, { store });
    assert.deepEqual([...b.computeSync(CHECK)], EXPECTED);
    // New tables get ids that do not collide with restored ones.
    b.computeSync('_home.fresh = { v = "new" }');
    assert.deepEqual([...b.computeSync('return _home.fresh.v, _home.deep.l1.l2.l3')], ['new', 'bottom']);
  });

  test(`${name} store: changing one key of a 100,000-key table writes only that change`, async (t) => {
    const store = await make(t);
    const lua = await engine(t, { store });
    lua.computeSync('local big = {} _home.big = big for i = 1, 100000 do big[i] = "value " .. i end');
    await lua.save();
    const full = store.stats.bytesWritten;
    assert.ok(full > 100000 * 10, `first save wrote ${full} bytes`);
    lua.computeSync('_home.big[500] = "changed"');
    await lua.save();
    const delta = store.stats.bytesWritten - full;
    // One key (9 bytes) and one value (12 bytes), plus the file store's manifest.
    assert.ok(delta < 1024, `second save wrote ${delta} bytes`);
    if (store.stats.puts !== undefined) assert.equal(store.stats.puts, 100000 + 1 + 1);
    const again = await engine(t, { store });
    assert.deepEqual([...again.computeSync('return _home.big[500], _home.big[501], #_home.big')], ['changed', 'value 501', 100000]);
  });

  test(`${name} store: tables no longer reachable from _home are not kept`, async (t) => {
    const store = await make(t);
    const lua = await engine(t, { store });
    lua.computeSync('_home.keep = { v = 1 } _home.drop = { w = { 1, 2, 3 } } _home.keep.back = _home.keep');
    await lua.save();
    const before = (await store.load()).metadata.tableIds;
    assert.equal(before.length, 4);
    lua.computeSync('_home.drop = nil x = ext and ext.table and ext.table() or {}');
    await lua.save();
    const snap = await store.load();
    assert.equal(snap.metadata.tableIds.length, 2);
    const ids = new Set(snap.tables ? [...snap.tables].filter(([, t]) => t.size).map(([id]) => id) : [...snap.entries].map(([id]) => id));
    assert.deepEqual([...ids].sort(), [...snap.metadata.tableIds].sort());
    const again = await engine(t, { store });
    assert.deepEqual([...again.computeSync('return _home.keep.v, _home.drop, _home.keep.back == _home.keep')], [1, null, true]);
  });

  test(`${name} store: autosave after each compute, and reset replaces the stored state`, async (t) => {
    const store = await make(t);
    const lua = await engine(t, { store, autosave: true });
    await lua.compute('_home.a = 1 _home.t = { 1 }');
    await assert.rejects(lua.compute('_home.b = 2 error("late")'));
    const seen = await engine(t, { store });
    assert.deepEqual([...seen.computeSync('return _home.a, _home.b, _home.t[1]')], [1, 2, 1]);
    lua.reset();
    await lua.compute('_home.c = 3');
    const after = await engine(t, { store });
    assert.deepEqual([...after.computeSync('return _home.a, _home.b, _home.c')], [null, null, 3]);
  });
}

test('a failed save keeps its changes for the next one', async (t) => {
  const store = new MemoryStore();
  const save = store.save.bind(store);
  let fail = false;
  store.save = async (batch) => { if (fail) throw new Error('disk full'); return save(batch); };
  const lua = await engine(t, { store });
  lua.computeSync('_home.a = 1');
  await lua.save();
  lua.computeSync('_home.a = 2 _home.b = 3');
  fail = true;
  await assert.rejects(lua.save(), (e) => e instanceof StoreError && /disk full/.test(e.message));
  fail = false;
  await lua.save();
  const again = await engine(t, { store });
  assert.deepEqual([...again.computeSync('return _home.a, _home.b')], [2, 3]);
});

test('a damaged file state is refused with a clear error and not overwritten', async (t) => {
  const dir = await tempDir(t);
  const lua = await engine(t, { store: new FileStore(dir) });
  lua.computeSync('_home.v = "precious"');
  await lua.save();
  const seg = (await readdir(dir)).find((n) => n.startsWith('seg-'));
  const bytes = await readFile(join(dir, seg));
  bytes[bytes.length - 1] ^= 0xff;
  await writeFile(join(dir, seg), bytes);
  await assert.rejects(LuaEngine.create({ wasm: wasmModule, store: new FileStore(dir) }),
    (e) => e instanceof StoreError && /damaged or foreign/.test(e.message) && e.message.includes(dir));
  const other = await engine(t, { store: new FileStore(dir), restore: false });
  await assert.rejects(other.load(), StoreError);
  other.computeSync('_home.v = "other"');
  await assert.rejects(other.save(), StoreError);
  assert.deepEqual(await readFile(join(dir, seg)), bytes, 'the damaged segment was left alone');
  await other.save({ overwrite: true });
  const fresh = await engine(t, { store: new FileStore(dir) });
  assert.equal(fresh.computeSync('return _home.v')[0], 'other');
});

test('a foreign state is refused', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'MANIFEST'), JSON.stringify({ format: 'something-else', tables: {} }));
  await assert.rejects(LuaEngine.create({ wasm: wasmModule, store: new FileStore(dir) }), /damaged or foreign.*something-else/);
  // The seed's own record shape, without our format marker.
  const store = new MemoryStore();
  store.metadata = { memoryTableId: 1, nextTableId: 2, tableCount: 1, tableIds: [1], savedAt: '', stateRestored: false };
  await assert.rejects(LuaEngine.create({ wasm: wasmModule, store }), (e) => e instanceof StoreError && /not written by lua-persist/.test(e.message));
});

test('file store: the log is compacted and stays correct', async (t) => {
  const dir = await tempDir(t);
  const store = new FileStore(dir, { maxSegments: 3, fsync: false });
  const lua = await engine(t, { store });
  for (let i = 1; i <= 10; i++) {
    lua.computeSync(`_home.k${i} = ${i} _home.k${i - 1} = nil _home.count = ${i}`);
    await lua.save();
  }
  assert.ok(store.stats.compactions >= 2);
  const files = (await readdir(dir)).filter((n) => n.startsWith('seg-'));
  assert.ok(files.length <= 3, files.join());
  const again = await engine(t, { store: new FileStore(dir) });
  assert.deepEqual([...again.computeSync('return _home.count, _home.k10, _home.k9, _home.k1')], [10, 10, null, null]);
});

test('file store: a process killed mid-save leaves the old or the new state', async (t) => {
  const dir = await tempDir(t);
  const N = 20000;
  let lastSaved = 0;
  let midSave = 0;
  const delays = [0, 12, 18, 24, 28, 32, 36, 40, 48, 60];
  for (let kill = 0; kill < delays.length; kill++) {
    const child = spawn(process.execPath, [join(ROOT, 'tests/js/fixtures/save-loop.mjs'), dir, String(N)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    // 'close', not 'exit': lines the child wrote just before it died may still be in the
    // pipe when 'exit' fires, and `reported` below needs all of them.
    const closed = new Promise((resolve) => child.on('close', resolve));
    // A few saves in, so the child's code is warm and a save takes a steady ~30-50 ms.
    const target = lastSaved + 3;
    await new Promise((resolve, reject) => {
      const early = (code) => reject(new Error(`save loop exited early (${code})`));
      let killing = false;
      child.on('error', reject);
      child.on('exit', early);
      child.stdout.on('data', (d) => {
        out += d;
        // Output keeps arriving after this (the child runs on until the kill, and on a
        // loaded machine the timer may fire before the pipe is drained): schedule the kill
        // once, and take off only our own 'exit' listener.
        if (!killing && out.includes(`saving ${target}\n`)) {
          killing = true;
          child.off('exit', early);
          // Kill somewhere inside that save: right away, or a little later.
          setTimeout(() => { child.kill('SIGKILL'); resolve(); }, delays[kill]);
        }
      });
    });
    await closed;
    const reported = Math.max(lastSaved, ...[...out.matchAll(/saved (\d+)/g)].map((m) => Number(m[1])));
    const names = await readdir(dir);
    const manifest = await readFile(join(dir, 'MANIFEST'), 'utf8').catch(() => '{"segments":[]}');
    const listed = JSON.parse(manifest).segments.map((s) => s.file);
    if (names.some((n) => n === 'MANIFEST.tmp' || (n.startsWith('seg-') && !listed.includes(n)))) midSave++;
    const lua = await LuaEngine.create({ wasm: wasmModule, store: new FileStore(dir) });
    const [round, uniform] = lua.computeSync(`
      local r = _home.round or 0
      if r == 0 then return 0, next(_home) == nil end
      for i = 1, ${N} do if _home[i] ~= r then return r, false end end
      return r, true`);
    lua.close();
    assert.equal(uniform, true, `state after kill ${kill} mixes rounds`);
    assert.ok(round >= reported, `lost a completed save: have ${round}, child reported ${reported}`);
    assert.ok(round <= reported + 1);
    lastSaved = round;
  }
  t.diagnostic(`kills that left a partial save on disk: ${midSave} of ${delays.length}`);
});
