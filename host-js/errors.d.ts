/**
 * A Lua error: a syntax error or a runtime error raised by the script. `chunk` and `line`
 * come from the `chunk:line:` prefix of the message when Lua gave one.
 */
export class LuaError extends Error {
  constructor(kind: 'syntax' | 'runtime', message: string);
  readonly name: 'LuaError';
  kind: 'syntax' | 'runtime';
  /** Chunk name as shown by Lua (`input`, `script.lua`, `[string "..."]`), or null. */
  chunk: string | null;
  /** 1-based line number, or null when the message has none. */
  line: number | null;
  /** lua5.4's `stack traceback:` text for runtime errors, '' when none. */
  traceback: string;
  /** What the failed run printed before it failed (errors thrown by compute/computeSync). */
  output?: string;
}

/** A run stopped by the instruction budget or the Lua heap limit; the engine stays usable. */
export class LuaLimitError extends Error {
  constructor(kind: 'instruction-limit' | 'memory-limit', message: string);
  readonly name: 'LuaLimitError';
  kind: 'instruction-limit' | 'memory-limit';
  /** What the run printed before it was stopped. */
  output?: string;
}

/** The script called `os.exit(code)`: the run ended there (the CLI exits with `code`). */
export class LuaExit extends Error {
  constructor(code: number);
  readonly name: 'LuaExit';
  /** The exit status (`os.exit(true)` is 0, `os.exit(false)` 1). */
  code: number;
}

/**
 * A Lua function or LuaTable that no longer works: `'disposed'` (its `dispose()` was
 * called) or `'replaced'` (its Lua state was replaced by `load()`, `reset()` or the restart
 * after a crash).
 */
export class LuaReleasedError extends Error {
  constructor(reason: 'disposed' | 'replaced', what?: 'function' | 'table');
  readonly name: 'LuaReleasedError';
  reason: 'disposed' | 'replaced';
}

/**
 * The module and the host disagree (ABI version, malformed call), the engine is closed or
 * busy, or the module trapped: `trapped` is then true, `cause` holds the RuntimeError, and
 * the engine has already been restarted with its external data intact.
 */
export class AbiError extends Error {
  constructor(message: string, options?: ErrorOptions);
  readonly name: 'AbiError';
  trapped: boolean;
  /** What the run printed, when a run failed this way. */
  output?: string;
}

/**
 * Why a store could not load or save:
 * - `'stale'`: another writer saved since this engine last loaded or saved; nothing was
 *   written and the engine keeps its changes (`load()` takes the other state,
 *   `save({overwrite: true})` replaces it)
 * - `'damaged'`: the stored state is damaged or foreign; it was left untouched
 * - `'locked'`: another writer held the store's lock too long
 * - `'quota'`: the disk or the browser's quota is full; nothing was written
 * - `'timeout'`: the store did not answer within its `timeout` (the save may still land)
 * - `'io'`: anything else the store or the platform reported
 */
export type StoreErrorCode = 'stale' | 'damaged' | 'locked' | 'quota' | 'timeout' | 'io';

/** A store could not load or save; `code` says why. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown; code?: StoreErrorCode });
  readonly name: 'StoreError';
  code: StoreErrorCode;
}
