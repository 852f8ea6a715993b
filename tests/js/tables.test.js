// External tables in JS: the array part, the hash part's own index, `next` through the
// module, and what persists of them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LuaEngine } from '../../host-js/lua-api.js';
import { FileStore } from '../../host-js/stores/file.js';
import { MemoryStore } from '../../host-js/stores/memory.js';
import { Table, Entry, keyString } from '../../host-js/tables.js';
import { encodeKey, encodeValue } from '../../host-js/codec.js';
import { wasmModule, tempDir } from './helpers.js';

async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

/** The results of a chunk as a plain array. */
async function values(lua, code) { return [...await lua.compute(code)]; }

test('a Table agrees with a Map under random writes, deletions and tidying', () => {
  let seed = 7;
  const random = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const keys = [];
  for (let i = -3; i <= 300; i++) keys.push(i);
  for (let i = 0; i < 300; i++) keys.push(`k${i}`);
  keys.push(2 ** 40, 2 ** 53 + 2, 1.5, true, false, '');
  // Values that grow and shrink in place: integers, strings of 0..40 bytes, now and then one
  // past the compact size (kept as bytes).
  const value = () => {
    const kind = random(10);
    if (kind < 4) return random(1000);
    const n = kind === 9 && random(20) === 0 ? 5000 + random(100) : random(40);
    return Entry.of(0, encodeValue('x'.repeat(n) + random(10))).v;
  };
  const table = new Table();
  const model = new Map();
  const buf = new Uint8Array(8192);
  for (let step = 0; step < 60000; step++) {
    const key = keys[random(step < 30000 ? keys.length : 320)];
    const k = keyString(encodeKey(key));
    if (random(3) === 0) {
      assert.deepEqual(table.remove(k), model.get(k));
      model.delete(k);
    } else {
      const v = value();
      assert.deepEqual(table.put(k, v), model.get(k));
      model.set(k, v);
      table.tidy();
    }
    if (step % 997 === 0) {
      assert.equal(table.size, model.size);
      assert.deepEqual(new Map(table.pairs()), model);
      for (const key2 of keys) {
        const bytes = encodeKey(key2);
        const want = model.get(keyString(bytes));
        buf.set(bytes);
        const n = table.readAt(buf, 0, bytes.length, 64, buf.length - 64);
        if (want === undefined) assert.equal(n, -1, `key ${String(key2)}`);
        else assert.deepEqual(buf.subarray(64, 64 + n), new Entry(0, want).value, `key ${String(key2)}`);
      }
    }
  }
});

test('keys 1..n go to the array part, which a reload rebuilds', async (t) => {
  const dir = await tempDir(t);
  const lua = await engine(t, { store: new FileStore(dir, { fsync: false }) });
  await values(lua, `
    for i = 1, 1000 do _home[i] = i * 2 end
    _home.name = "x"; _home[-1] = "minus"; _home[5000] = "far"
    _home[10] = nil; _home[11] = nil`);
  const home = lua.tables.tables.get(lua.memoryTableId);
  assert.equal(home.array.length, 1000, 'keys 1..1000 are the array part');
  assert.equal(home.size, 1001);
  assert.deepEqual(await values(lua, 'return #_home % 1000 == 0 or #_home == 9, _home[10], _home[12], _home[1000]'), [true, null, 24, 2000]);
  await lua.save();

  const again = await engine(t, { store: new FileStore(dir, { fsync: false }) });
  const reloaded = again.tables.tables.get(again.memoryTableId);
  assert.equal(reloaded.size, 1001);
  assert.equal(reloaded.array.length, 9, 'the keys up to the first hole come back as the array part');
  const sum = `local n, s = 0, 0
    for k, v in pairs(_home) do n = n + 1; if math.type(v) == "integer" then s = s + v end end
    return n, s, _home.name, _home[-1], _home[5000], _home[11]`;
  assert.deepEqual(await values(again, sum), await values(lua, sum));
});

test('a state saved before the array part existed loads, its integer keys in any order', async (t) => {
  const dir = await tempDir(t);
  // What earlier versions wrote: entries in insertion order, integer keys mixed with others.
  const { Entry, keyString: oldKeyString } = await import('../../host-js/tables.js');
  const entries = [[3, 'c'], ['a', 'A'], [1, 'a'], [2, 'b'], [7, 'g'], [-4, 'minus']].map(([key, v]) => {
    const k = oldKeyString(encodeKey(key));
    return [1, Entry.of(k, new Uint8Array([4, 1, 0, 0, 0, v.charCodeAt(0)]))];
  });
  await new FileStore(dir, { fsync: false }).save({
    metadata: { memoryTableId: 1, nextTableId: 2, tableCount: 1, tableIds: [1], savedAt: '', stateRestored: false, format: 'lua-persist/1' },
    replace: true, puts: entries, deletes: [], dropTables: [], base: null,
  });
  const lua = await engine(t, { store: new FileStore(dir, { fsync: false }) });
  assert.equal(lua.tables.tables.get(1).array.length, 3);
  assert.deepEqual(await values(lua, `
    local seen = {}
    for k, v in pairs(_home) do seen[#seen + 1] = tostring(k) .. "=" .. v end
    table.sort(seen)
    return table.concat(seen, " "), #_home`), ['-4=m 1=a 2=b 3=c 7=g a=A', 3]);
});

test('next keeps its place while a traversal assigns and deletes fields', async (t) => {
  const lua = await engine(t);
  const [visited, left, sum] = await values(lua, `
    local t = ext.table()
    for i = 1, 500 do t[i] = i end
    for i = 1, 500 do t["s" .. i] = i end
    local visited, sum = 0, 0
    for k, v in pairs(t) do
      visited = visited + 1
      sum = sum + v
      if v % 2 == 0 then t[k] = nil else t[k] = v * 10 end
    end
    local left = 0
    for k, v in pairs(t) do left = left + 1; assert(v % 10 == 0) end
    return visited, left, sum`);
  assert.deepEqual([visited, left, sum], [1000, 500, 2 * 125250]);
});

test('a table can be cleared during a traversal, and next from a deleted key goes on', async (t) => {
  const lua = await engine(t);
  assert.deepEqual(await values(lua, `
    local t = ext.table()
    for i = 1, 300 do t[i] = true; t["k" .. i] = true end
    local n = 0
    for k in pairs(t) do t[k] = nil; n = n + 1 end
    local k, v = next(t)
    return n, k, ext.size(t)`), [600, null, 0]);
  assert.deepEqual(await values(lua, `
    local t = ext.table()
    t.a = 1; t.b = 2; t.c = 3; t[1] = 4; t[2] = 5
    t.b = nil; t[1] = nil
    local after_b = next(t, "b")
    local after_1 = next(t, 1)
    return after_b, after_1, pcall(next, t, "never")`), ['c', 2, false, "invalid key to 'next'"]);
});

test('nested and interleaved traversals of one table each keep their place', async (t) => {
  const lua = await engine(t);
  assert.deepEqual(await values(lua, `
    local t = ext.table()
    for i = 1, 60 do t[i] = i end
    for i = 1, 60 do t["k" .. i] = i end
    local pairs_seen = 0
    for k1 in pairs(t) do for k2 in pairs(t) do pairs_seen = pairs_seen + 1 end end
    local a, b, steps = nil, nil, 0
    repeat
      a = next(t, a); b = next(t, b); b = b ~= nil and next(t, b) or nil
      steps = steps + 1
    until a == nil
    -- next from any key, in any order, is the key after it
    local order = {}
    for k in pairs(t) do order[#order + 1] = k end
    for i = #order - 1, 1, -1 do assert(next(t, order[i]) == order[i + 1]) end
    return pairs_seen, steps`), [120 * 120, 121]);
});

test('a manual next loop is linear', async (t) => {
  const lua = await engine(t);
  const n = 200000;
  lua.computeSync(`for i = 1, ${n} do _home["k" .. i] = i end`);
  const started = performance.now();
  assert.deepEqual(await values(lua, `
    local k, n = nil, 0
    repeat k = next(_home, k); if k ~= nil then n = n + 1 end until k == nil
    local fresh = 0
    for i = 1, 1000 do fresh = fresh + (next(_home) and 1 or 0) end
    return n, fresh`), [n, 1000]);
  // Quadratic would be minutes; linear is well under a second.
  assert.ok(performance.now() - started < 20000, `took ${performance.now() - started} ms`);
});

test('deletions that leave the array part mostly holes give its memory back', async (t) => {
  const lua = await engine(t);
  await values(lua, `
    for i = 1, 10000 do _home[i] = i end
    for i = 1, 9990 do _home[i] = nil end
    _home.fresh = 1`);
  const home = lua.tables.tables.get(lua.memoryTableId);
  assert.ok(home.array.length < 100, `array part of ${home.array.length}`);
  assert.equal(home.size, 11);
  assert.deepEqual(await values(lua, 'local s = 0; for k, v in pairs(_home) do s = s + v end; return s, _home[9995], #_home == 0 or #_home == 10000'), [99955 + 1, 9995, true]);
  assert.equal(lua.memoryStats().externalBytes, 10 * 18 + (1 + 4 + 5) + 9);
});

test('string keys keep their values and places through longer and shorter values, deletion and reinsertion', async (t) => {
  const lua = await engine(t);
  assert.deepEqual(await values(lua, `
    local t = ext.table()
    for i = 1, 2000 do t["k" .. i] = "v" .. i end
    local function want(i)
      if i % 3 == 1 then return string.rep("longer", i % 50 + 1) elseif i % 3 == 2 then return "" end
      return "v" .. i
    end
    for i = 1, 2000 do if i % 3 ~= 0 then t["k" .. i] = want(i) end end
    local n = 0
    for k, v in pairs(t) do
      n = n + 1
      assert(k == "k" .. n, "insertion order kept")
      assert(v == want(n))
    end
    -- Most keys deleted, then an insertion (which tidies), then all put back.
    for i = 1, 1900 do t["k" .. i] = nil end
    t.fresh = true
    assert(ext.size(t) == 101 and t.k5 == nil and t.k1999 == want(1999))
    for i = 1, 1900 do t["k" .. i] = i end
    local sum = 0
    for i = 1, 1900 do sum = sum + t["k" .. i] end
    return n, ext.size(t), sum, t.k1950 == want(1950)`), [2000, 2001, 1900 * 1901 / 2, true]);
});

test('a traversal that overwrites string keys with longer values visits each key once', async (t) => {
  const lua = await engine(t);
  assert.deepEqual(await values(lua, `
    local t = ext.table()
    for i = 1, 3000 do t["s" .. i] = i end
    local visited, seen = 0, {}
    for k, v in pairs(t) do
      assert(not seen[k], "visited twice: " .. k)
      seen[k] = true
      visited = visited + 1
      if v % 5 == 0 then t[k] = nil else t[k] = string.rep("x", v % 300 + 20) end
    end
    local left = 0
    for k, v in pairs(t) do left = left + 1; assert(#v >= 20) end
    return visited, left`), [3000, 2400]);
});

test('binary strings with every byte value, and values past 64 KiB, survive a save and a reload', async (t) => {
  const dir = await tempDir(t);
  const code = `
    local t = _home
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    all = table.concat(all)
    t[all] = all:reverse()
    for b = 0, 255 do t[string.char(b)] = string.char(b, 255 - b, 0) end
    t.big = string.rep(all, 600)            -- 153,600 bytes
    t[string.rep("k", 70000)] = "long key"
    t.big2 = string.rep("ab", 40000)
    t.big2 = "shrunk"`;
  const check = `
    local t = _home
    local all = {}
    for b = 0, 255 do all[#all + 1] = string.char(b) end
    all = table.concat(all)
    local ok = t[all] == all:reverse()
    for b = 0, 255 do ok = ok and t[string.char(b)] == string.char(b, 255 - b, 0) end
    local n = 0
    for k, v in pairs(t) do n = n + 1 end
    return ok, t.big == string.rep(all, 600), t[string.rep("k", 70000)], t.big2, n`;
  const lua = await engine(t, { store: new FileStore(dir, { fsync: false }) });
  await values(lua, code);
  const want = [true, true, 'long key', 'shrunk', 260];
  assert.deepEqual(await values(lua, check), want);
  await lua.save();
  const again = await engine(t, { store: new FileStore(dir, { fsync: false }) });
  assert.deepEqual(await values(again, check), want);
  const bytes = again.tables.get(again.memoryTableId, encodeKey('big'));
  assert.equal(bytes.length, 5 + 153600);
});

test('a table changed in most of its keys is saved whole, deletions included, also after a failed save', async (t) => {
  const memory = new MemoryStore();
  let fail = false;
  const store = {
    load: () => memory.load(),
    save: (batch) => {
      if (!fail) return memory.save(batch);
      fail = false;
      return Promise.reject(new Error('disk full'));
    },
  };
  const lua = await engine(t, { store });
  await values(lua, 'for i = 1, 3000 do _home["k" .. i] = i end _home.keep = "x"');
  await lua.save();
  await values(lua, 'for i = 1, 3000 do if i % 2 == 0 then _home["k" .. i] = nil else _home["k" .. i] = -i end end');
  assert.ok(lua.tables.rewritten.has(lua.memoryTableId), 'no longer recorded key by key');
  assert.equal(lua.unsaved, true);
  fail = true;
  await assert.rejects(lua.save(), /disk full/);
  await lua.save();
  assert.equal(lua.unsaved, false);
  const check = `local n, s = 0, 0
    for k, v in pairs(_home) do n = n + 1; if type(v) == "number" then s = s + v end end
    return n, s, _home.keep, _home.k2`;
  const again = await engine(t, { store: memory });
  assert.deepEqual(await values(again, check), [1501, -1500 * 1500, 'x', null]);
});
