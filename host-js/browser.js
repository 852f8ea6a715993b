// The public API, and the package's entry for browsers. `LuaEngine` is the API; the module functions below keep the seed's
// names and meaning (one default engine per page or process) for code written against it:
//
//   await loadLuaWasm(); init();
//   await compute('_home.test = 123');
//   await saveState(); init(); await loadState();
//
// Nothing this file loads names a `node:*` module. lua-api.js is the same API plus, under Node,
// module files read from paths and FileStore as the default store; node.js (the package's
// entry for Node) also exports FileStore.

import { LuaEngine } from './engine.js';
import { loadModule } from './load.js';
import { nodeOnly } from './platform.js';
import { MemoryStore } from './stores/memory.js';
import { IdbStore } from './stores/idb.js';

export { LuaEngine };
export { LuaError, LuaLimitError, LuaExit, LuaReleasedError, AbiError, StoreError } from './errors.js';
export { LuaResults } from './results.js';
export { LuaTableRef, LuaOpaque } from './codec.js';
export { LuaTable } from './lua-table.js';
export { MemoryStore, IdbStore };

let engine = null;

/**
 * The store the module functions use when none is given: IndexedDB in a browser; in Node a
 * directory, `$LUA_PERSIST_STATE` or `.state` under the current directory.
 */
export async function defaultStore() {
  if (nodeOnly.defaultStore) return nodeOnly.defaultStore();
  if (typeof indexedDB !== 'undefined') return new IdbStore();
  return new MemoryStore();
}

/**
 * Loads the module (see `loadModule` for what `source` may be; default dist/lua.wasm) and
 * creates the default engine. Options are LuaEngine options; `store` defaults to
 * `defaultStore()`. Nothing is restored until `loadState()`.
 * @returns {Promise<LuaEngine>}
 */
export async function loadLuaWasm(source, options = {}) {
  const wasm = await loadModule(source);
  engine?.close();
  engine = await LuaEngine.create({ ...options, wasm, restore: false, store: options.store ?? await defaultStore() });
  return engine;
}

function current() {
  if (!engine) throw new Error('call `await loadLuaWasm()` first');
  return engine;
}

/** Creates a fresh Lua state: empty `_home`, no globals but the library. */
export function init() { current().reset(); return 0; }

/**
 * Runs a chunk. Resolves to its return values (an array that prints like Lua's `print`,
 * with `.output` holding what the chunk printed); rejects with LuaError/LuaLimitError.
 */
export function compute(code, options) { return current().compute(code, options); }

/** Saves `_home` (and every table reachable from it) to the store. */
export async function saveState(options) { await current().save(options); return true; }

/** Restores the saved state; resolves false when there is none. */
export function loadState() { return current().load(); }

/** Linear memory, Lua heap and external-table sizes. */
export function getMemoryStats() { return current().memoryStats(); }

/** The default engine (after `loadLuaWasm`), for anything the functions above do not cover. */
export function getEngine() { return current(); }
