// The error types the host throws. Each sets `name` so it survives structured cloning and
// shows up readably in logs.

/**
 * A Lua error: a syntax error or a runtime error raised by the script.
 * `chunk` and `line` come from the `chunk:line:` prefix of the message when Lua gave one;
 * `traceback` is lua5.4's `stack traceback:` text for runtime errors ('' when none).
 */
export class LuaError extends Error {
  /**
   * @param {'syntax'|'runtime'} kind
   * @param {string} message the full message as Lua produced it
   */
  constructor(kind, message) {
    const at = message.indexOf('\nstack traceback:\n');
    super(at < 0 ? message : message.slice(0, at));
    /** The traceback the module sent after the message. */
    this.traceback = at < 0 ? '' : message.slice(at + 1);
    message = this.message;
    this.name = 'LuaError';
    /** @type {'syntax'|'runtime'} */
    this.kind = kind;
    const where = parseLocation(message);
    /** Chunk name as shown by Lua (`input`, `script.lua`, `[string "..."]`), or null. */
    this.chunk = where?.chunk ?? null;
    /** 1-based line number, or null when the message has none. */
    this.line = where?.line ?? null;
  }
}

/** A run stopped by the instruction budget or the Lua heap limit; the engine stays usable. */
export class LuaLimitError extends Error {
  /** @param {'instruction-limit'|'memory-limit'} kind */
  constructor(kind, message) {
    super(message);
    this.name = 'LuaLimitError';
    this.kind = kind;
  }
}

/** The script called `os.exit(code)`: the run ended there (the CLI exits with `code`). */
export class LuaExit extends Error {
  /** @param {number} code */
  constructor(code) {
    super(`the script called os.exit(${code})`);
    this.name = 'LuaExit';
    /** The exit status (`os.exit(true)` is 0, `os.exit(false)` 1). */
    this.code = code;
  }
}

/**
 * The module and the host disagree (ABI version, malformed call), the engine is closed or
 * busy, or the module trapped (`trapped` is then true and `cause` holds the RuntimeError;
 * the engine has already been restarted with its external data intact).
 */
export class AbiError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'AbiError';
    this.trapped = false;
  }
}

/**
 * A Lua function or LuaTable that can no longer be used: `reason` is `'disposed'` (its
 * `dispose()` was called) or `'replaced'` (the Lua state it came from was replaced by
 * `load()`, `reset()` or the restart after a crash).
 */
export class LuaReleasedError extends Error {
  /** @param {'disposed'|'replaced'} reason @param {'function'|'table'} [what] */
  constructor(reason, what = 'function') {
    super(reason === 'disposed' ? `this Lua ${what} was disposed`
      : `this Lua ${what} belonged to a Lua state that was replaced (load, reset or a crash)`);
    this.name = 'LuaReleasedError';
    this.reason = reason;
  }
}

/**
 * A store could not load or save. `code` says why:
 * - `'stale'`: another writer saved since this engine last loaded or saved; nothing was
 *   written and the engine keeps its changes (`load()` takes the other state,
 *   `save({overwrite: true})` replaces it)
 * - `'damaged'`: the stored state is damaged or foreign; it was left untouched
 * - `'locked'`: another writer held the store's lock too long
 * - `'quota'`: the disk or the browser's quota is full; nothing was written
 * - `'timeout'`: the store did not answer within its `timeout` (the save may still land)
 * - `'io'`: anything else the store or the platform reported
 */
export class StoreError extends Error {
  /** @param {string} message @param {{cause?: unknown, code?: string}} [options] */
  constructor(message, options = {}) {
    super(message, options);
    this.name = 'StoreError';
    /** @type {'stale'|'damaged'|'locked'|'quota'|'timeout'|'io'} */
    this.code = options.code ?? 'io';
  }
}

// `input:3: msg`, `script.lua:12: msg`, `[string "x = 1"]:1: msg`.
const LOCATION = /^(\[string ".*?"\]|[^\s:][^:\n]*?):(\d+):/;

/** The `{chunk, line}` at the start of a Lua message, or null. */
export function parseLocation(message) {
  const m = LOCATION.exec(message);
  return m ? { chunk: m[1], line: Number(m[2]) } : null;
}
