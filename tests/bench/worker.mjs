// One measurement in its own process (so that one engine's heap and JIT state never colour
// another's): `node --expose-gc worker.mjs '<json task>'`. Prints one JSON line.
//
// Tasks:
//   {kind:'vm', engine:'ours'|'wasmoon'|'fengari', code, reps}
//   {kind:'ext', code, setup?, prefill?, reps}             (ours only)
//   {kind:'persist', n, reps, dir}                           (ours only, FileStore)
// Every run uses a fresh engine / Lua state; the timed region is the compute call only.

import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const task = JSON.parse(process.argv[2]);
const root = new URL('../../', import.meta.url);
const api = await import(new URL('host-js/lua-api.js', root));
const { encodeKey, encodeValue } = await import(new URL('host-js/codec.js', root));
const wasmPath = process.env.BENCH_WASM; // a private copy: others may rebuild dist/ meanwhile

const gc = globalThis.gc ?? (() => {});
const now = () => performance.now();
const str = (v) => (v === undefined || v === null ? String(v) : typeof v === 'object' ? JSON.stringify(v) : String(v));

const { loadModule } = await import(new URL('host-js/load.js', root));
let wasmModule = null;
async function ours(options = {}) {
  wasmModule ??= await loadModule(wasmPath); // compiled once per process
  return api.LuaEngine.create({ wasm: wasmModule, ...options });
}

async function runOurs(code, setup, prefill, memoryLimit) {
  const e = await ours(memoryLimit ? { memoryLimit } : {});
  if (prefill) fill(e, prefill);
  if (setup) await e.compute(setup);
  gc();
  const t0 = now();
  const r = await e.compute(code);
  const ms = now() - t0;
  const m = e.memoryStats();
  e.close();
  return { ms, checksum: str(r[0]), wasmPages: m.wasmPages, luaHeapBytes: m.luaHeapBytes };
}

// Puts n entries into `_home` from JS (untimed set-up for the read/pairs workloads).
function fill(e, { n, key, value }) {
  const id = e.memoryTableId;
  const tables = e.tables;
  for (let i = 1; i <= n; i++) {
    tables.set(id, encodeKey(key === 'int' ? i : `k${i}`), encodeValue(value === 'int' ? i : `v${i}`));
  }
}

let wasmoonFactory = null;
async function runWasmoon(code) {
  const { LuaFactory } = await import('wasmoon');
  wasmoonFactory ??= new LuaFactory();
  const lua = await wasmoonFactory.createEngine();
  gc();
  const t0 = now();
  const r = await lua.doString(code);
  const ms = now() - t0;
  const mod = await wasmoonFactory.getLuaModule();
  const bytes = mod.module.HEAPU8.byteLength;
  lua.global.close();
  return { ms, checksum: str(r), wasmPages: bytes / 65536 };
}

async function runFengari(code) {
  const { lua, lauxlib, lualib, to_luastring } = (await import('fengari')).default;
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  gc();
  const t0 = now();
  if (lauxlib.luaL_loadstring(L, to_luastring(code)) !== lua.LUA_OK || lua.lua_pcall(L, 0, 1, 0) !== lua.LUA_OK) {
    throw new Error(lua.lua_tojsstring(L, -1));
  }
  const ms = now() - t0;
  const checksum = lua.lua_tojsstring(L, -1);
  lua.lua_close?.(L);
  return { ms, checksum };
}

async function persist({ n, reps, dir: base }) {
  const { FileStore } = await import(new URL('host-js/stores/file.js', root));
  const runs = [];
  for (let r = 0; r < reps; r++) {
    const dir = mkdtempSync(join(base, `persist-${n}-`));
    try {
      const store = new FileStore(dir);
      const e = await ours({ store, restore: false });
      fill(e, { n, key: 'int', value: 'str' });
      gc();
      let t0 = now();
      await e.save();
      const saveMs = now() - t0;
      const savedBytes = store.stats.bytesWritten;
      e.close();
      // Load into a fresh engine from a fresh store object (nothing cached).
      const store2 = new FileStore(dir);
      const e2 = await ours({ store: store2, restore: false });
      gc();
      t0 = now();
      await e2.load();
      const loadMs = now() - t0;
      const size = (await e2.compute('return ext.size(_home)'))[0];
      // Incremental: change one key, save again.
      await e2.compute("_home[5] = 'changed'");
      const before = store2.stats.bytesWritten;
      t0 = now();
      await e2.save();
      const incMs = now() - t0;
      const incBytes = store2.stats.bytesWritten - before;
      // Steady state: five more one-key saves in a row (the first above also pays for the
      // garbage collection and compilation the bulk load left behind).
      const steady = [];
      for (let i = 0; i < 5; i++) {
        await e2.compute(`_home[7] = 'again ${i}'`);
        t0 = now();
        await e2.save();
        steady.push(now() - t0);
      }
      const incSteadyMs = steady.sort((a, b) => a - b)[2];
      // The same without fsync: what the save costs apart from waiting for the disk.
      await e2.compute("_home[6] = 'changed'");
      store2.fsync = false;
      t0 = now();
      await e2.save();
      const incNoSyncMs = now() - t0;
      const check = (await e2.compute('return _home[5], _home[' + n + ']'));
      const m = e2.memoryStats();
      e2.close();
      runs.push({ saveMs, loadMs, incMs, incSteadyMs, incNoSyncMs, savedBytes, incBytes, size: str(size),
        checksum: `${str(size)}:${str(check[0])}:${str(check[1])}`, wasmPages: m.wasmPages });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    gc();
  }
  return runs;
}

async function main() {
  const runs = [];
  if (task.kind === 'persist') return persist(task);
  for (let r = 0; r < task.reps; r++) {
    if (task.kind === 'ext') runs.push(await runOurs(task.code, task.setup, task.prefill, task.memoryLimit));
    else if (task.engine === 'ours') runs.push(await runOurs(task.code));
    else if (task.engine === 'wasmoon') runs.push(await runWasmoon(task.code));
    else if (task.engine === 'fengari') runs.push(await runFengari(task.code));
    else throw new Error(`unknown engine ${task.engine}`);
  }
  return runs;
}

try {
  const runs = await main();
  process.stdout.write(`${JSON.stringify({ ok: true, runs })}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(e?.message ?? e).slice(0, 500) })}\n`);
}
