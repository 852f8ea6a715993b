import type { LuaValue, LuaTableRef } from './codec.js';
import type { LuaError } from './errors.js';
import type { LuaResults } from './results.js';
import type { LuaTable } from './lua-table.js';
import type { WasmSource } from './load.js';
import type { Store } from './stores/store.js';
import type { ExternalTables } from './tables.js';

export interface LuaEngineOptions {
  /** The module (default dist/lua.wasm next to host-js/). */
  wasm?: WasmSource;
  /** Where `save()`/`load()` keep the state; none by default. */
  store?: Store | null;
  /** Load the store's state (if any) while creating the engine (default true). */
  restore?: boolean;
  /** Save after every `compute` (default false); failures go to `onError`. */
  autosave?: boolean;
  /** Make every run atomic (default false; see `compute`). */
  atomic?: boolean;
  /** Instructions per run; 0 means none (the default). */
  instructionLimit?: number;
  /** Bytes the Lua heap may hold (at least 1 MiB, at most 2 GiB; default 128 MiB). */
  memoryLimit?: number;
  /** How chunks are named in messages: `=name` or `@file` (default `=input`). */
  chunkName?: string;
  /** Let `load` accept binary chunks (`string.dump` output, verified first); default false. */
  binaryChunks?: boolean;
  /** Receives print output as the module flushes it (`print`, `io.write`, `io.stdout`). */
  onOutput?: (bytes: Uint8Array) => void;
  /**
   * Receives `io.stderr` output and warnings (default: process.stderr under Node,
   * console.error in a browser).
   */
  onStderr?: (bytes: Uint8Array) => void;
  /**
   * Called when `io.read` needs more input: the next piece, or null for the end of input
   * (default under Node: the process's standard input; in a browser: no input). In
   * `compute` it may return a Promise of that: `io.read`, `io.lines()` and `io.stdin` wait
   * for it without blocking the event loop, and a rejection is an io error the script sees;
   * `computeSync` cannot wait, so there a Promise fails the read.
   */
  onInput?: () => string | Uint8Array | null | undefined | Promise<string | Uint8Array | null | undefined>;
  /**
   * Under Node, `io.open`, `os.remove`, `os.rename`, `os.tmpname`, `io.tmpfile` and `require`
   * of Lua files reach real files (default false: "not available in this sandbox").
   */
  fs?: boolean;
  /** What `os.getenv` sees (also `LUA_PATH`, `LUA_PATH_5_4`); none by default. */
  env?: Record<string, string | undefined>;
  /** Receives autosave failures (default `console.error`). */
  onError?: (error: unknown) => void;
  /** Target duration of one slice of `compute` before it yields, in ms (default 8). */
  sliceMs?: number;
  /** The tables to use, e.g. a subclass that observes every write; a fresh one by default. */
  tables?: ExternalTables;
}

/** A key of `_io` (or of a table nested in it). */
export type IoKey = boolean | number | bigint | string | Uint8Array | LuaTableRef;
/** A value of `_io`: nested objects, Maps and arrays become fresh external tables. */
export type IoValue =
  | null | undefined | boolean | number | bigint | string | Uint8Array | LuaTableRef | IoTable;
/** The contents of `_io`: an object, a Map, or an array (keys 1..n). */
export type IoTable = { [key: string]: IoValue } | Map<IoKey, IoValue> | IoValue[];

export interface ComputeSyncOptions {
  /** This run's chunk name (default: the engine's `chunkName`). */
  chunkName?: string;
  /** Replaces `_io` before the run (see `setIo`). */
  io?: IoTable;
  /** Undo every external write if the run fails (default: the engine's `atomic`). */
  atomic?: boolean;
  /** The chunk's `...` (strings). */
  args?: string[];
  /** Hand what the chunk returns to Lua's `print` (lua5.4's REPL) and resolve to no values. */
  printResults?: boolean;
}

export interface ComputeOptions extends ComputeSyncOptions {
  /** Aborting stops the run between slices; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface SaveOptions {
  /** Replace a stored state that is newer (`stale`) or `damaged`. */
  overwrite?: boolean;
  /** The page is going away (pagehide): the store issues its writes at once. */
  leaving?: boolean;
}

export interface MemoryStats {
  abiVersion: number;
  /** Size of the module's IO buffer. */
  ioBufferBytes: number;
  wasmPages: number;
  linearMemoryBytes: number;
  luaHeapBytes: number;
  luaHeapLimit: number;
  /** The next external table id the module hands out. */
  nextTableId: number;
  /** Id of `_home`. */
  memoryTableId: number;
  /** Encoded bytes the external tables hold. */
  externalBytes: number;
  /** External tables holding at least one entry. */
  externalTables: number;
  externalEntries: number;
  /** JS objects Lua holds as userdata (let go of when Lua collects them). */
  hostObjects: number;
  /** The store's usage and quota as of its last load or save (IdbStore), else null. */
  storage: { usage: number; quota: number } | null;
}

/**
 * A Lua state whose `_home` lives in external tables. Engines are independent: each has its
 * own module instance, tables and store.
 */
export class LuaEngine {
  /** Loads the module, starts a state and, given a store, restores its saved state. */
  static create(options?: LuaEngineOptions): Promise<LuaEngine>;
  /** Use `LuaEngine.create`. */
  private constructor();

  /** Save after every `compute`. */
  autosave: boolean;
  /** The last autosave failure, or null. */
  lastSaveError: unknown;
  /** The store given at creation, or null. */
  readonly store: Store | null;
  /** Id of the table `_home` (and `Memory`) points at. */
  readonly memoryTableId: number;
  /** The live external tables (read them; writes bypass change tracking). */
  readonly tables: ExternalTables;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** Whether the state changed since the last save or load (always false without a store). */
  readonly unsaved: boolean;

  /**
   * Runs `code` in slices, yielding to the event loop between them. Resolves to the returned
   * values; rejects with LuaError, LuaLimitError, LuaExit (`os.exit`), AbiError (after a
   * trap, already recovered) or the signal's reason. An atomic run that rejects leaves every external table as it was.
   */
  compute(code: string | Uint8Array, options?: ComputeOptions): Promise<LuaResults>;
  /** Runs `code` to completion without yielding; same results and errors as `compute`. */
  computeSync(code: string | Uint8Array, options?: ComputeSyncOptions): LuaResults;
  /** Compiles `code` without running it: null when it compiles, else the LuaError. */
  check(code: string | Uint8Array, options?: { chunkName?: string }): LuaError | null;

  /**
   * Lua's global variables: `get` resolves to the value as `compute` returns values (Lua
   * functions as LuaFunction); `set` converts as `compute` inputs are (plain objects and arrays
   * become new tables, JS functions Lua functions, other objects userdata); `getTable`
   * resolves to the table itself (rejecting with LuaError when it is not one). Each runs
   * under the engine's limits.
   */
  readonly global: {
    get(name: string): Promise<LuaValue>;
    set(name: string, value: unknown): Promise<void>;
    getTable(name: string): Promise<LuaTable>;
  };

  /** External table `ref` (or its id) as a LuaTable, read and written in place. */
  getTable(ref: LuaTableRef | number): LuaTable;

  /**
   * Makes `require(name)` give `module`: Lua source, run once on the first `require`, or a
   * JS value (a copy). A `package.preload` entry that survives `reset()`, `load()` and a
   * restart after a trap; Lua source with a syntax error throws LuaError here.
   */
  registerModule(name: string, module: string | Uint8Array | number | boolean | object | null): void;

  /** Replaces `_io` (never persisted) with `entries`. */
  setIo(entries: IoTable): void;
  /** `_io` as a Map (nested external tables as Maps). */
  getIo(): Map<LuaValue, LuaValue>;
  /**
   * External table `id` as a Map; tables it references become Maps down to `depth` levels
   * (default 16; deeper ones stay LuaTableRef). `limit` caps the entries read per table.
   */
  readTable(id: number, options?: { depth?: number; limit?: number }): Map<LuaValue, LuaValue>;

  /**
   * Writes the changes since the last save to the store, all or nothing. Rejects with
   * StoreError (keeping every change for the next save).
   */
  save(options?: SaveOptions): Promise<void>;
  /** Replaces the state with the store's; resolves to false when the store is empty. */
  load(): Promise<boolean>;
  /** A fresh Lua state with an empty `_home`; the next save replaces the stored state. */
  reset(): void;
  /**
   * Runs a full garbage collection in the Lua heap; between runs it also drops the upvalue
   * cells no stored function refers to any more.
   */
  collectGarbage(): void;
  /** Linear memory, Lua heap and external table figures. */
  memoryStats(): MemoryStats;
  /** Releases the module instance; later calls throw AbiError, pending ones reject with it. */
  close(): void;
  [Symbol.dispose](): void;
}
