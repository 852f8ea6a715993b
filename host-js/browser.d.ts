import type { LuaEngine, LuaEngineOptions, ComputeOptions, SaveOptions, MemoryStats } from './engine.js';
import type { LuaResults } from './results.js';
import type { WasmSource } from './load.js';
import type { Store } from './stores/store.js';

export { LuaEngine } from './engine.js';
export type {
  LuaEngineOptions, ComputeOptions, ComputeSyncOptions, SaveOptions, MemoryStats, IoTable, IoValue, IoKey,
} from './engine.js';
export { LuaError, LuaLimitError, LuaExit, LuaReleasedError, AbiError, StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { LuaResults } from './results.js';
export { LuaTableRef, LuaOpaque } from './codec.js';
export { LuaTable } from './lua-table.js';
export type { LuaValue, LuaFunction } from './codec.js';
export { MemoryStore } from './stores/memory.js';
export { IdbStore } from './stores/idb.js';
export type { IdbStoreOptions } from './stores/idb.js';
export type { Store, Snapshot, Batch, Metadata } from './stores/store.js';
export type { ExternalTables, Entry } from './tables.js';
export type { WasmSource } from './load.js';

/**
 * The store the seed functions use when none is given: IndexedDB in a browser (memory when
 * there is none); under Node a FileStore in `$LUA_PERSIST_STATE` or `.state`.
 */
export function defaultStore(): Promise<Store>;

/**
 * Loads the module and creates the default engine (store: `defaultStore()` unless given).
 * Nothing is restored until `loadState()`.
 */
export function loadLuaWasm(source?: WasmSource, options?: Omit<LuaEngineOptions, 'wasm' | 'restore'>): Promise<LuaEngine>;
/** Creates a fresh Lua state in the default engine: empty `_home`; returns 0. */
export function init(): number;
/** Runs a chunk in the default engine (see `LuaEngine.compute`). */
export function compute(code: string | Uint8Array, options?: ComputeOptions): Promise<LuaResults>;
/** Saves `_home` (and every table reachable from it); resolves to true. */
export function saveState(options?: SaveOptions): Promise<boolean>;
/** Restores the saved state; resolves to false when there is none. */
export function loadState(): Promise<boolean>;
/** The default engine's memory figures. */
export function getMemoryStats(): MemoryStats;
/** The default engine (after `loadLuaWasm`). */
export function getEngine(): LuaEngine;
