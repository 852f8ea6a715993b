// LuaEngine: one module instance, its external tables and (optionally) a store.

import { Abi, Status, ErrorKind, Handle, HostCall } from './abi.js';
import { ExternalTables } from './tables.js';
import {
  decodeResults, decodeMessage, decodeValue, encodeAnswer, encodeCall, encodeKey, encodeValue, LuaTableRef,
  CodecError, Tag,
} from './codec.js';
import { LuaTable } from './lua-table.js';
import { LuaError, LuaLimitError, LuaExit, LuaReleasedError, AbiError, StoreError } from './errors.js';
import { loadModule, isNode } from './load.js';
import { nodeOnly } from './platform.js';
import { luaLiteral, luaString } from './lua-source.js';
import { LuaResults } from './results.js';
import { buildBatch, readSnapshot, IO_TABLE_ID } from './persist.js';
import { Journal } from './journal.js';

const utf8 = new TextEncoder();

/** Lets the event loop run (timers, input, rendering) between slices of a long script. */
const yieldToEventLoop = typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : () => new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
    ch.port2.postMessage(null);
  });

const MIN_FUEL = 1000;
const START_FUEL = 20000;
const MAX_FUEL = 0xffffffff;

/**
 * @typedef {object} LuaEngineOptions
 * @property {*} [wasm] the module: WebAssembly.Module, bytes, Response, URL or path (default dist/lua.wasm)
 * @property {object|null} [store] where `save()`/`load()` keep the state (see docs/stores.md)
 * @property {boolean} [restore=true] load the store's state (if any) while creating the engine
 * @property {boolean} [autosave=false] save after every `compute` (errors go to `onError`)
 * @property {boolean} [atomic=false] make every run atomic (see `compute`)
 * @property {number} [instructionLimit=0] instructions per run; 0 means none
 * @property {number} [memoryLimit] bytes the Lua heap may hold (>= 1 MiB, larger than 2 GiB counts as 2 GiB; module default 128 MiB)
 * @property {string} [chunkName='=input'] how chunks are named in messages (`=name`, `@file`)
 * @property {boolean} [binaryChunks=false] let `load` accept binary chunks (`string.dump`
 *   output); the bytecode is validated, but a sandbox may prefer to refuse it outright
 * @property {(bytes: Uint8Array) => void} [onOutput] receives print output as it is flushed
 *   (`print`, `io.write`, `io.stdout`)
 * @property {(bytes: Uint8Array) => void} [onStderr] receives `io.stderr` output and warnings
 *   (default: process.stderr under Node, console.error in a browser)
 * @property {() => (string|Uint8Array|null|undefined|Promise<string|Uint8Array|null|undefined>)} [onInput]
 *   called when `io.read` needs more input: the next piece (a line, say), or null for the end
 *   of input (default under Node: the process's standard input, read synchronously; in a
 *   browser: no input). In `compute` a Promise of that is awaited (a rejection is an io
 *   error); `computeSync` cannot wait and fails the read
 * @property {boolean} [fs=false] under Node, `io.open`, `os.remove`, `os.rename`,
 *   `os.tmpname`, `io.tmpfile` and `require` of Lua files reach real files; otherwise they
 *   fail with "not available in this sandbox"
 * @property {Record<string, string|undefined>} [env] what `os.getenv` sees (`process.env` in
 *   the CLI), also `LUA_PATH`/`LUA_PATH_5_4` for `package.path`; none by default
 * @property {(error: Error) => void} [onError] receives autosave failures (default console.error)
 * @property {number} [sliceMs=8] target duration of one slice of `compute` before yielding
 * @property {import('./tables.js').ExternalTables} [tables] the tables to use (a host may
 *   subclass ExternalTables and override `putEntry`/`delete` to observe every write); a fresh
 *   one by default
 */

/**
 * A Lua state whose `_home` lives in external tables. Create with `await LuaEngine.create()`.
 * Engines are independent: each has its own module instance, tables and store.
 */
export class LuaEngine {
  #module; #options; #abi; #tables;
  #store; #persisted = null; #blocked = null; #restored = false; #wiped = false;
  // The store generation this state derives from: 0 for an empty store, null when unknown
  // (never loaded, or a store without generations).
  #generation = null;
  // Whether this engine has loaded from or saved to its store.
  #seen = false;
  #closed = false; #busy = 0; #queue = Promise.resolve(); #whenClosed; #rejectPending;
  #chunkName; #memoryTableId = 0; #counter = 0;
  #output = null; #outputError = null; #restarting = null;
  #system; #modules = new Map();
  // Counts Lua states (init, load, reset, restart): a handle works only in its own.
  #state = 0; #global = null;
  // Lua functions and LuaTables by value: `{ tag, id, check }`, what passing one to Lua sends.
  #refs = new WeakMap();
  // JS functions given to Lua, by id both ways; kept while the engine lives.
  #hostFunctions = new Map(); #hostIds = new Map(); #inHost = false;
  // JS objects Lua holds as userdata, by id both ways; kept until Lua lets go of them.
  #objects = new Map(); #objectIds = new Map(); #nextObjectId = 1;
  #hooks = {
    handle: (id) => this.#wrap(id),
    hostFunction: (id) => this.#hostFunctions.get(id) ?? null,
    hostObject: (id) => this.#objects.get(id),
  };
  // A call of TABLE_OPEN returns a plain table as a handle.
  #openHooks = { ...this.#hooks, handle: (id) => this.#luaTable(null, id) };
  #refOf = (v) => this.#ref(v);

  /**
   * Loads the module, starts a state and, given a store, restores its saved state.
   * @param {LuaEngineOptions} [options]
   * @returns {Promise<LuaEngine>}
   */
  static async create(options = {}) {
    checkAtomic(options.atomic);
    const module = await loadModule(options.wasm);
    const holder = {};
    const system = systemOf(options, isNode && nodeOnly.io ? await nodeOnly.io() : null);
    const abi = await Abi.instantiate(module, LuaEngine.#abiOptions(holder, options.tables ?? new ExternalTables(), system));
    const engine = holder.engine = new LuaEngine(module, options, abi, system);
    if (engine.#store && options.restore !== false) await engine.load();
    return engine;
  }

  /** Use `LuaEngine.create`. */
  constructor(module, options, abi, system) {
    if (!(module instanceof WebAssembly.Module) || !(abi instanceof Abi)) {
      throw new TypeError('use `await LuaEngine.create(options)`');
    }
    this.#module = module;
    this.#system = system;
    this.#options = { ...options };
    // Settles (rejected) on close(): every pending call races it.
    this.#whenClosed = new Promise((_, reject) => { this.#rejectPending = reject; });
    this.#whenClosed.catch(() => {});
    this.#store = options.store ?? null;
    /** Save after every `compute`. */
    this.autosave = Boolean(options.autosave);
    /** The last autosave failure, or null. */
    this.lastSaveError = null;
    this.#chunkName = options.chunkName ?? '=input';
    this.#tables = abi.tables;
    // Without a store nothing ever takes the change record: don't keep one.
    this.#tables.trackChanges = this.#store !== null;
    this.#attach(abi);
  }

  // `holder.engine` is filled in once the engine exists (the first instance predates it).
  static #abiOptions(holder, tables, system) {
    return {
      ...system, tables,
      output: (bytes) => holder.engine?.#onOutput(bytes),
      releaseObject: (id) => holder.engine?.#releaseObject(id),
    };
  }

  // Binds a fresh instance: routes output to this engine, applies limits and chunk name.
  #attach(abi) {
    this.#abi = abi;
    // A trapped instance never lets go of its objects: they go with it.
    this.#objects.clear();
    this.#objectIds.clear();
    abi.init();
    this.#state++;
    abi.setFunctionHandles(true);
    const o = this.#options;
    if (o.instructionLimit !== undefined) abi.setInstructionLimit(o.instructionLimit);
    if (o.memoryLimit !== undefined) abi.setMemoryLimit(o.memoryLimit);
    if (o.binaryChunks) abi.setBinaryChunks(true);
    abi.setChunkName(this.#chunkName);
    this.#noteIds();
    this.#preloadModules();
  }

  // A fresh state has lost the modules registered before.
  #preloadModules() {
    for (const [name, module] of this.#modules) this.#abi.compute(preload(name, module));
  }

  #noteIds() {
    this.#memoryTableId = this.#abi.memoryTableId();
    this.#counter = Math.max(this.#counter, this.#abi.tableCounter());
  }

  #onOutput(bytes) {
    this.#output?.push(bytes);
    // A throwing callback must not unwind through the module (that would poison it).
    try { this.#options.onOutput?.(bytes); } catch (e) { this.#outputError ??= e; }
  }

  /** The store given at creation, or null. */
  get store() { return this.#store; }

  /** Id of the table `_home` (and `Memory`) currently points at. */
  get memoryTableId() { this.#check(); return this.#memoryTableId; }

  /** The live external tables (read-only use: writes bypass change tracking rules). */
  get tables() { return this.#tables; }

  /** Whether `close()` was called. */
  get closed() { return this.#closed; }

  /**
   * Whether the state changed since the last save or load: a write to an external table other
   * than `_io`, or `reset()`. Always false without a store.
   */
  get unsaved() {
    this.#check();
    if (!this.#store) return false;
    if (this.#wiped) return true;
    for (const id of this.#tables.dirty.keys()) if (id !== IO_TABLE_ID) return true;
    for (const id of this.#tables.rewritten) if (id !== IO_TABLE_ID) return true;
    return false;
  }

  /**
   * Runs `code` in slices, yielding to the event loop between them so a page stays
   * responsive. Resolves to the returned values (a LuaResults array with `output`).
   * Rejects with LuaError, LuaLimitError or AbiError (after a trap, already recovered).
   * An `atomic` run (default: the engine's `atomic` option) that rejects, for any reason
   * including an abort, leaves every external table as it was before the run.
   * `args` (strings) are the chunk's `...`; `printResults` hands what the chunk returns to
   * Lua's `print` instead (lua5.4's interactive loop), resolving to no values. A script that
   * calls `os.exit(n)` ends the run: it rejects with LuaExit, whose `code` is n.
   * @param {string|Uint8Array} code
   * @param {{chunkName?: string, io?: object, args?: string[], printResults?: boolean,
   *   signal?: AbortSignal, atomic?: boolean}} [options]
   * @returns {Promise<LuaResults>}
   */
  compute(code, options = {}) {
    const bytes = typeof code === 'string' ? utf8.encode(code) : code;
    return this.#run(options, () => this.#abi.start(bytes));
  }

  /**
   * Lua's global variables. `get(name)` resolves to the value as `compute` would return it
   * (functions as callable handles); `set(name, value)` assigns a value converted as a
   * `compute` input would be (plain objects and arrays become new Lua tables, Lua functions
   * from this engine are themselves, other objects userdata). `getTable(name)` resolves to the
   * table itself as a LuaTable. Each runs as a short call under the engine's limits.
   * @type {{get(name: string): Promise<unknown>, set(name: string, value: unknown): Promise<void>,
   *   getTable(name: string): Promise<LuaTable>}}
   */
  get global() {
    this.#check();
    return this.#global ??= Object.freeze({
      get: async (name) => (await this.#call(Handle.GLOBAL_GET, [name], {}))[0],
      set: async (name, value) => { await this.#call(Handle.GLOBAL_SET, [name, value], {}); },
      getTable: (name) => this.#openTable([null, name]),
    });
  }

  /**
   * External table `ref` (a LuaTableRef or its id) as a LuaTable, read and written in place.
   * @param {LuaTableRef|number} ref
   * @returns {LuaTable}
   */
  getTable(ref) {
    this.#check();
    const id = ref instanceof LuaTableRef ? ref.id : ref;
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new TypeError('expected a LuaTableRef or an external table id');
    return this.#luaTable(id);
  }

  // Calls handle `handle` with `args` as a run of its own (see `compute`). The arguments are
  // encoded when the run starts: objects Lua let go of meanwhile get new ids.
  #call(handle, args, options, check = () => {}, hooks = this.#hooks) {
    check();
    let input;
    const prepare = () => {
      check();
      input = encodeCall(handle, args, { refOf: this.#refOf });
    };
    return this.#run(options, () => this.#abi.startCall(input), prepare, hooks);
  }

  // The table `args` name (see `Handle.TABLE_OPEN`) as a LuaTable.
  async #openTable(args, check) {
    const [t] = await this.#call(Handle.TABLE_OPEN, args, {}, check, this.#openHooks);
    return t instanceof LuaTableRef ? this.#luaTable(t.id) : t;
  }

  // A LuaTable for external table `id`, or (`id` null) for the plain table behind `handle`.
  #luaTable(id, handle) {
    const h = this.#handle(id === null ? handle : null, 'table');
    const table = new LuaTable(id, {
      call: (op, args) => this.#call(op, [table, ...args], {}, h.check),
      open: (key) => this.#openTable([table, key], h.check),
      dispose: h.dispose,
    });
    this.#refs.set(table, id === null ? { tag: Tag.HANDLE, id: handle, check: h.check } : { tag: Tag.TABLE_REF, id, check: h.check });
    return table;
  }

  // What passing `v` to Lua sends, as `[tag, id]`: a Lua function or LuaTable from this engine
  // is itself, any other JS function a host function, any other object a host object.
  #ref(v) {
    const known = this.#refs.get(v);
    if (known) {
      known.check();
      return [known.tag, known.id];
    }
    if (typeof v === 'function') {
      let id = this.#hostIds.get(v);
      if (id === undefined) {
        id = this.#hostIds.size + 1;
        if (id > 0xffffffff) throw new CodecError('too many JS functions given to Lua');
        this.#hostIds.set(v, id);
        this.#hostFunctions.set(id, v);
      }
      return [Tag.HOST_FUNCTION, id];
    }
    let id = this.#objectIds.get(v);
    if (id === undefined) {
      id = this.#nextObjectId++;
      if (id > 0xffffffff) throw new CodecError('too many JS objects given to Lua');
      this.#objectIds.set(v, id);
      this.#objects.set(id, v);
    }
    return [Tag.HOST_OBJECT, id];
  }

  // Lua let go of host object `id` (collected, or its state ended).
  #releaseObject(id) {
    const object = this.#objects.get(id);
    this.#objects.delete(id);
    if (this.#objectIds.get(object) === id) this.#objectIds.delete(object);
  }

  // Calls the JS function a run waits for; its value, or its error message, is the answer.
  async #callHost(payload) {
    try {
      const [id, ...args] = decodeResults(payload, this.#hooks);
      // `io.read` waits for what `onInput` promised; it then reads again.
      if (id === HostCall.STDIN) {
        await this.#system.stdin.wait();
        return encodeAnswer({ values: [] });
      }
      let pending;
      // The run waits for this function: a call into the engine from it could never start.
      this.#inHost = true;
      try {
        pending = id < 0 ? objectCall(id, args) : this.#hostFunctions.get(id)(...args);
      } finally { this.#inHost = false; }
      const value = await pending;
      return encodeAnswer({ values: value === undefined ? [] : [value] }, { refOf: this.#refOf });
    } catch (e) {
      return encodeAnswer({ error: e instanceof Error ? e.message : String(e) });
    }
  }

  // A JS function for the Lua function behind `id` in the current state.
  #wrap(id) {
    const { check, dispose } = this.#handle(id, 'function');
    const f = async (...args) => this.#call(id, args, {}, check);
    f.callWith = async (options, ...args) => this.#call(id, args, options ?? {}, check);
    f.dispose = dispose;
    if (Symbol.dispose) f[Symbol.dispose] = f.dispose;
    this.#refs.set(f, { tag: Tag.HANDLE, id, check });
    return f;
  }

  // `check` refuses a disposed handle, and one of a replaced state; `dispose` releases it.
  // Without an id (an external table) nothing is held and the state does not matter.
  #handle(id, what) {
    const state = this.#state;
    let disposed = false;
    return {
      check: () => {
        if (disposed) throw new LuaReleasedError('disposed', what);
        this.#check();
        if (id !== null && this.#state !== state) throw new LuaReleasedError('replaced', what);
      },
      dispose: () => {
        if (disposed) return;
        disposed = true;
        if (id !== null && !this.#closed && this.#state === state && !this.#restarting) {
          this.#guard(() => this.#abi.releaseHandle(id));
        }
      },
    };
  }

  // One run in slices: `start` begins it in the module; `prepare` may refuse it first.
  #run(options, start, prepare = () => {}, hooks = this.#hooks) {
    return this.#exclusive(async () => {
      await this.#ready();
      prepare();
      this.#begin(options);
      let outcome;
      let failed = true;
      // Only here can a read wait for a Promise from onInput.
      const input = this.#system.stdin?.wait ? this.#system.stdin : null;
      if (input) input.canWait = true;
      try {
        outcome = this.#guard(start);
        const target = this.#options.sliceMs ?? 8;
        // Each run calibrates afresh: what earlier runs measured (quick chunks, cheap
        // instructions) says nothing about this one, and an abort waits for a whole slice.
        let fuel = START_FUEL;
        while (!outcome) {
          this.#check();
          if (options.signal?.aborted) throw options.signal.reason ?? new DOMException('aborted', 'AbortError');
          const t0 = performance.now();
          outcome = this.#guard(() => this.#abi.resume(fuel));
          const dt = performance.now() - t0;
          if (outcome?.status === Status.WAITING_FOR_HOST) {
            const answer = await abortable(this.#callHost(outcome.payload.subarray(4)), options.signal);
            this.#check();
            this.#guard(() => this.#abi.hostReturn(answer));
            outcome = null;
          } else if (!outcome) {
            // Only a slice that used all its fuel measures the speed. Aim each at `target`
            // ms, growing at most fourfold per slice.
            fuel = Math.round(Math.min(MAX_FUEL, Math.max(MIN_FUEL, fuel * Math.min(4, target / Math.max(dt, 0.01)))));
            await yieldToEventLoop();
          }
        }
        const results = this.#finish(outcome, hooks);
        failed = false;
        return results;
      } finally {
        if (input) { input.canWait = false; input.abandon(); }
        // After close() nothing is left to tidy up.
        if (!this.#closed) {
          this.#end(failed);
          if (this.autosave && this.#store) await this.#autosave();
        }
      }
    });
  }

  /**
   * Runs `code` to completion without yielding. Same results and errors as `compute`.
   * @param {string|Uint8Array} code
   * @param {{chunkName?: string, io?: object, args?: string[], printResults?: boolean,
   *   atomic?: boolean}} [options]
   * @returns {LuaResults}
   */
  computeSync(code, options = {}) {
    this.#check();
    if (this.#busy || this.#restarting) throw new AbiError('the engine is busy with an asynchronous call');
    this.#begin(options);
    let failed = true;
    try {
      const results = this.#finish(this.#guard(() => this.#abi.compute(code)));
      failed = false;
      return results;
    } finally {
      this.#end(failed);
    }
  }

  /**
   * Compiles `code` without running it: null when it compiles, else the LuaError.
   * (Used by the REPL to tell an expression from a statement and to spot unfinished input.)
   * @returns {LuaError|null}
   */
  check(code, { chunkName } = {}) {
    this.#check();
    if (this.#busy || this.#restarting) throw new AbiError('the engine is busy with an asynchronous call');
    // Compiling writes nothing: no journal.
    this.#begin({ chunkName, atomic: false });
    try {
      const outcome = this.#guard(() => this.#abi.start(typeof code === 'string' ? utf8.encode(code) : code));
      if (!outcome) return null;
      try { this.#finish(outcome); } catch (e) { if (e instanceof LuaError) return e; throw e; }
      return null;
    } finally {
      this.#output = null;
    }
  }

  #begin({ chunkName, io, args, printResults, atomic = this.#options.atomic }) {
    checkAtomic(atomic);
    const name = chunkName ?? this.#options.chunkName ?? '=input';
    if (name !== this.#chunkName) { this.#abi.setChunkName(name); this.#chunkName = name; }
    if (args !== undefined) this.#abi.setChunkArgs(args);
    if (printResults) this.#abi.printNextResults();
    if (io !== undefined) this.setIo(io);
    this.#output = [];
    this.#outputError = null;
    // After `_io` is filled: the host's input is not part of the run.
    if (atomic) this.#tables.journal = new Journal(this.#tables);
  }

  // Ends a run; an atomic one that failed (or whose onOutput threw) is undone.
  #end(failed) {
    const error = this.#outputError;
    this.#outputError = null;
    const journal = this.#tables.journal;
    this.#tables.journal = null;
    if (journal && (failed || error)) journal.undo();
    if (this.#tables.cellCollectionDue) this.#collectCells();
    if (error) throw error;
  }

  // Drops the upvalue cells of functions that were overwritten or deleted, here and in the
  // module. Only between runs: an atomic run's undo may bring such a function back.
  #collectCells() {
    if (this.#restarting) return;
    for (const id of this.#tables.collectCells()) this.#guard(() => this.#abi.releaseCell(id));
  }

  #finish({ status, payload }, hooks = this.#hooks) {
    const chunks = this.#output ?? [];
    this.#output = null;
    const output = concat(chunks);
    this.#noteIds();
    if (status >= 0) return LuaResults.of(decodeResults(payload, hooks), output);
    const kind = ErrorKind[-status];
    const message = decodeMessage(payload);
    let error;
    if (status === Status.EXIT) error = new LuaExit(Number(message));
    else if (status === Status.SYNTAX || status === Status.RUNTIME) error = new LuaError(kind, message);
    else if (status === Status.INSTRUCTION_LIMIT || status === Status.MEMORY_LIMIT) error = new LuaLimitError(kind, message);
    else error = new AbiError(message);
    error.output = new TextDecoder().decode(output);
    throw error;
  }

  // Calls into the module. Anything thrown from inside an export (a trap, a stack overflow)
  // leaves the module's state borrowed for good, so the instance is replaced.
  #guard(fn) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof AbiError && !(e.cause instanceof Error)) throw e;
      const panic = e instanceof WebAssembly.RuntimeError ? this.#abi.panicMessage() : '';
      this.#output = null;
      this.#restart();
      const why = panic ? `${e.message}: ${panic}` : e.message;
      const err = new AbiError(`the Lua module crashed (${why}); it was restarted with _home and ` +
        'all external tables intact, but other globals and locals are gone', { cause: e });
      err.trapped = true;
      throw err;
    }
  }

  #restart() {
    const options = LuaEngine.#abiOptions({ engine: this }, this.#tables, this.#system);
    const memoryTableId = this.#memoryTableId;
    // Ids the dead instance handed out may not have been observed yet: never reuse one.
    let next = this.#counter;
    for (const id of this.#tables.tables.keys()) next = Math.max(next, id + 1);
    const resume = (abi) => {
      this.#attach(abi);
      this.#abi.syncTableCounter(next);
      this.#abi.attachMemoryTable(memoryTableId);
      this.#noteIds();
    };
    try {
      resume(Abi.instantiateSync(this.#module, options));
    } catch {
      // Some browsers refuse large synchronous instantiation on the main thread.
      this.#restarting = Abi.instantiate(this.#module, options).then(resume)
        .finally(() => { this.#restarting = null; });
    }
  }

  async #ready() {
    this.#check();
    if (this.#restarting) await this.#restarting;
  }

  #check() {
    if (this.#closed) throw new AbiError('the engine is closed');
  }

  // Serialises asynchronous operations (compute, save, load) on this engine; close()
  // rejects the ones still pending.
  #exclusive(fn) {
    this.#check();
    if (this.#inHost) throw new AbiError('a JS function called from Lua cannot call into its own engine');
    this.#busy++;
    const run = this.#queue.then(() => { this.#check(); return fn(); }).finally(() => { this.#busy--; });
    this.#queue = run.catch(() => {});
    return Promise.race([run, this.#whenClosed]);
  }

  // A store that never settles must not hold the engine forever: `store.timeout` ms (0 or
  // absent: wait as long as it takes).
  #settle(promise, what) {
    const ms = this.#store.timeout;
    if (!(ms > 0)) return promise;
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new StoreError(`${what} ${this.#store.describe?.() ?? 'the store'} did not finish ` +
        `within the store's timeout of ${ms} ms; it may still complete`, { code: 'timeout' })), ms);
    });
    return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
  }

  /**
   * Replaces `_io` (table 0) with `entries`: an object, Map or array of scalars, strings and
   * nested plain tables (which become fresh external tables). `_io` is never persisted.
   */
  setIo(entries) {
    this.#check();
    this.#tables.clearTable(IO_TABLE_ID);
    // Changes made here are never saved: `_io` and its nested tables are not reachable
    // from `_home`.
    this.#fill(IO_TABLE_ID, entries, new Map());
  }

  #fill(id, entries, seen) {
    seen.set(entries, id);
    const pairs = Array.isArray(entries) ? entries.map((v, i) => [i + 1, v])
      : entries instanceof Map ? [...entries] : Object.entries(entries);
    for (const [k, v] of pairs) {
      let value;
      if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof LuaTableRef)) {
        let ref = seen.get(v);
        if (ref === undefined) { ref = this.#abi.tableNew(); this.#fill(ref, v, seen); }
        value = encodeValue(new LuaTableRef(ref));
      } else {
        value = encodeValue(v);
      }
      if (v === null || v === undefined) continue;
      this.#tables.set(id, encodeKey(k), value);
    }
  }

  /**
   * Makes `require(name)` give a module: Lua source (string or bytes), run once on the first
   * `require` with the module's name as its `...`, or a JS value (number, string, boolean,
   * array, plain object: a copy). It is a `package.preload` entry, so `package.loaded` and
   * files on `package.path` work as in lua5.4, and it survives `reset()`, `load()` and a
   * restart after a trap. Lua source with a syntax error throws LuaError here.
   * @param {string} name
   * @param {string|Uint8Array|number|boolean|object|null} module
   */
  registerModule(name, module) {
    if (typeof name !== 'string') throw new TypeError('the module name must be a string');
    const code = preload(name, module);
    this.computeSync(code, { chunkName: '=registerModule', atomic: false });
    this.#modules.set(name, module);
  }

  /** `_io` as a Map (nested external tables as Maps; see `readTable`). */
  getIo() { return this.readTable(IO_TABLE_ID); }

  /**
   * Table `id` decoded into a Map; references to other external tables become Maps too,
   * down to `depth` levels (deeper ones stay LuaTableRef). Cycles reuse the same Map.
   * @param {number} id
   * @param {{depth?: number, limit?: number}} [options] `limit` caps entries per table
   * @returns {Map<unknown, unknown>}
   */
  readTable(id, { depth = 16, limit = Infinity } = {}) {
    this.#check();
    const built = new Map();
    const read = (tid, d) => {
      if (built.has(tid)) return built.get(tid);
      const out = new Map();
      built.set(tid, out);
      const t = this.#tables.tables.get(tid);
      if (!t) return out;
      let n = 0;
      for (const { key, value } of t.values()) {
        if (n++ >= limit) break;
        const v = decodeValue(value);
        out.set(decodeValue(key), v instanceof LuaTableRef && d > 0 ? read(v.id, d - 1) : v);
      }
      return out;
    };
    return read(id, depth);
  }

  /**
   * Writes the changes since the last save (or everything, the first time) to the store in
   * one all-or-nothing save. Tables no longer reachable from `_home` are dropped from it.
   * Rejects with StoreError, keeping every change for the next save, when the store cannot
   * be written, holds a state it could not read (`code: 'damaged'`) or was saved by another
   * writer since this engine last loaded or saved (`code: 'stale'`). `overwrite: true`
   * replaces the stored state with this engine's whole state in those last two cases.
   * `leaving: true` says the page is going away (pagehide): the store is asked to issue its
   * writes before the event loop turns (IdbStore: no lock, no reads; docs/stores.md).
   * @param {{overwrite?: boolean, leaving?: boolean}} [options]
   */
  save(options = {}) {
    return this.#exclusive(async () => { await this.#ready(); await this.#save(options); });
  }

  async #save({ overwrite = false, leaving = false } = {}) {
    const store = this.#store;
    if (!store) throw new StoreError('this engine has no store (pass `store` to LuaEngine.create)');
    if (this.#blocked && !overwrite) throw this.#blocked;
    // `overwrite` replaces the stored state only when a plain save is refused for it.
    if (overwrite && !this.#blocked) {
      try {
        return await this.#write(false, leaving);
      } catch (e) {
        if (!(e instanceof StoreError) || (e.code !== 'stale' && e.code !== 'damaged')) throw e;
      }
    }
    return this.#write(overwrite, leaving);
  }

  async #write(overwrite, leaving) {
    const store = this.#store;
    // An engine that never loaded (`restore: false`) replaces the stored state on its first
    // save, but only a state it can read: a damaged one is refused as `load()` refuses it.
    if (!this.#seen && !overwrite) {
      let raw;
      try {
        raw = await this.#settle(store.load(), 'loading from');
        if (raw) await readSnapshot(raw, store.describe?.() ?? 'the store');
      } catch (e) {
        throw this.#loadFailed(e);
      }
      this.#generation = raw ? (Number.isInteger(raw.generation) ? raw.generation : null) : 0;
    }
    const persisted = overwrite ? null : this.#persisted;
    const changes = this.#tables.takeChanges();
    changes.keys.delete(IO_TABLE_ID);
    changes.rewritten.delete(IO_TABLE_ID);
    const { batch, reachable } = buildBatch(this.#tables, changes, persisted, {
      memoryTableId: this.#memoryTableId,
      nextTableId: this.#counter,
      stateRestored: this.#restored,
    });
    batch.base = this.#generation;
    batch.overwrite = overwrite;
    batch.leaving = leaving;
    let generation;
    try {
      generation = await this.#settle(store.save(batch), 'saving to');
    } catch (e) {
      this.#tables?.restoreChanges(changes);
      throw e instanceof StoreError ? e : new StoreError(`saving failed: ${e.message}`, { cause: e });
    }
    this.#generation = Number.isInteger(generation) ? generation : null;
    this.#seen = true;
    this.#persisted = reachable;
    this.#wiped = false;
    this.#blocked = null;
    return batch;
  }

  // A stored state that cannot be read blocks saving over it; a failure to reach it does not.
  #loadFailed(e) {
    const error = e instanceof StoreError ? e : new StoreError(`loading failed: ${e.message}`, { cause: e });
    if (error.code === 'damaged') this.#blocked = error;
    return error;
  }

  async #autosave() {
    try {
      await this.#save();
      this.lastSaveError = null;
    } catch (e) {
      this.lastSaveError = e;
      (this.#options.onError ?? ((err) => console.error('lua-persist autosave:', err)))(e);
    }
  }

  /**
   * Replaces the current state with the store's saved one. Resolves to false when the store
   * is empty (nothing changes). A damaged or foreign state rejects with StoreError, changes
   * nothing, and blocks saving over it until `save({overwrite: true})`.
   * @returns {Promise<boolean>}
   */
  load() {
    return this.#exclusive(async () => {
      await this.#ready();
      const store = this.#store;
      if (!store) throw new StoreError('this engine has no store (pass `store` to LuaEngine.create)');
      let snapshot;
      let generation;
      try {
        const raw = await this.#settle(store.load(), 'loading from');
        if (raw === null || raw === undefined) {
          // An empty store: the next save writes everything.
          this.#generation = 0;
          this.#seen = true;
          this.#persisted = null;
          this.#blocked = null;
          return false;
        }
        generation = raw.generation;
        snapshot = await readSnapshot(raw, store.describe?.() ?? 'the store');
      } catch (e) {
        throw this.#loadFailed(e);
      }
      const { metadata, tables, accounts, cells } = snapshot;
      this.#abi.init();
      this.#state++;
      this.#preloadModules();
      this.#tables.clear();
      for (const [id, entries] of tables) this.#tables.adopt(id, entries, accounts.get(id));
      this.#tables.adoptCells(cells);
      this.#abi.syncTableCounter(metadata.nextTableId);
      this.#abi.attachMemoryTable(metadata.memoryTableId);
      this.#counter = 0;
      this.#noteIds();
      this.#tables.takeChanges();
      this.#persisted = new Set(tables.keys());
      this.#generation = Number.isInteger(generation) ? generation : null;
      this.#seen = true;
      this.#wiped = false;
      this.#blocked = null;
      this.#restored = true;
      return true;
    });
  }

  /** A fresh Lua state with an empty `_home`; the next save replaces the stored state. */
  reset() {
    this.#check();
    if (this.#busy) throw new AbiError('the engine is busy with an asynchronous call');
    this.#abi.init();
    this.#state++;
    this.#preloadModules();
    this.#tables.clear();
    this.#counter = 0;
    this.#noteIds();
    this.#persisted = null;
    this.#restored = false;
    this.#wiped = true;
  }

  /**
   * Runs a full garbage collection in the Lua heap. Between runs it also drops the upvalue
   * cells no stored function refers to any more (runs do that too, once enough piled up).
   */
  collectGarbage() {
    this.#check();
    if (!this.#busy) this.#collectCells();
    this.#guard(() => this.#abi.runGc());
  }

  /**
   * Linear memory and Lua heap figures from the module, plus what the external tables hold
   * and, when the store reports it (IdbStore: `navigator.storage.estimate()` as of the last
   * load or save), the storage used and available.
   * @returns {{linearMemoryBytes: number, luaHeapBytes: number, luaHeapLimit: number,
   *   externalBytes: number, externalTables: number, externalEntries: number,
   *   storage: {usage: number, quota: number} | null}}
   */
  memoryStats() {
    this.#check();
    const stats = this.#abi.memoryStats();
    let entries = 0;
    for (const t of this.#tables.tables.values()) entries += t.size;
    return {
      ...stats, externalBytes: this.#tables.bytes, externalTables: this.#tables.tableCount, externalEntries: entries,
      hostObjects: this.#objects.size, storage: this.#store?.storage ?? null,
    };
  }

  /**
   * Releases the module instance; later calls throw AbiError, and calls still pending
   * (a compute, or a save the store has not finished) reject with AbiError. The store is left
   * as it is: a save already handed to it may still land.
   */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#abi = null;
    this.#tables = null;
    this.#objects.clear();
    this.#objectIds.clear();
    this.#rejectPending(new AbiError('the engine was closed before this call finished'));
  }

  [Symbol.dispose]() { this.close(); }
}

function checkAtomic(atomic) {
  if (atomic !== undefined && typeof atomic !== 'boolean') {
    throw new TypeError(`the atomic option must be a boolean, got ${atomic === null ? 'null' : typeof atomic}`);
  }
}

// `promise`, or the abort of `signal` if that comes first (the run is then abandoned).
function abortable(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new DOMException('aborted', 'AbortError'));
    if (signal.aborted) { onAbort(); return; }
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function concat(chunks) {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.length; }
  return out;
}

/** The `package.preload` entry `registerModule` makes, as a chunk. */
function preload(name, module) {
  const key = `package.preload[${luaString(name)}]`;
  if (typeof module === 'string' || module instanceof Uint8Array) {
    return `${key} = assert(load(${luaString(module)}, ${luaString(`=${name}`)}, 't'))`;
  }
  return `${key} = function() return ${luaLiteral(module)} end`;
}

/** What `Abi.imports` gets for standard error, standard input, the environment and files. */
function systemOf(options, node) {
  if (options.fs && !node) throw new TypeError('the fs option needs Node (real files)');
  const decoder = new TextDecoder();
  const stderr = options.onStderr
    ?? (node ? (bytes) => process.stderr.write(bytes) : (bytes) => console.error(decoder.decode(bytes)));
  const env = options.env;
  return {
    // A throwing callback must not unwind through the module.
    stderr: (bytes) => { try { stderr(bytes); } catch { /* dropped, as C drops a failed write */ } },
    stdin: options.onInput ? inputFrom(options.onInput) : node ? node.readStdin : undefined,
    getenv: env ? (name) => (Object.hasOwn(env, name) && env[name] !== undefined ? String(env[name]) : undefined) : undefined,
    files: options.fs ? node.nodeFiles() : undefined,
  };
}

/** Standard input from an `onInput` callback: what it gives is kept until read. In a run
 * that can wait (`canWait`), a Promise it returns makes the read report "would block";
 * the run then awaits `wait()` and reads again. */
function inputFrom(onInput) {
  let pending = new Uint8Array(0);
  // The Promise a read waits for, then how it settled.
  let waiting = null;
  let settled = null;
  const stdin = (view) => {
    if (pending.length === 0) {
      let piece;
      if (settled) {
        const { error, value } = settled;
        settled = null;
        if (error) throw error.reason;
        piece = value;
      } else if (waiting) {
        throw wouldBlock();
      } else {
        piece = onInput();
        if (piece && typeof piece.then === 'function') {
          if (!stdin.canWait) throw new TypeError('onInput returned a Promise, which computeSync cannot wait for');
          waiting = piece;
          throw wouldBlock();
        }
      }
      if (piece === null || piece === undefined) return 0;
      pending = typeof piece === 'string' ? utf8.encode(piece) : piece;
    }
    const n = Math.min(pending.length, view.length);
    view.set(pending.subarray(0, n));
    pending = pending.subarray(n);
    return n;
  };
  stdin.canWait = false;
  stdin.wait = () => {
    const promise = waiting;
    const settle = (outcome) => { if (waiting === promise) { waiting = null; settled = outcome; } };
    return Promise.resolve(promise).then((value) => settle({ value }), (reason) => settle({ error: { reason } }));
  };
  // The run ended (an abort, say): what it waited for is dropped, and the next read asks anew.
  stdin.abandon = () => { waiting = null; };
  return stdin;
}

// What the module takes for `HostError::WOULD_BLOCK` (not an errno).
function wouldBlock() {
  return Object.assign(new Error('Resource temporarily unavailable'), { errno: 0x10000 });
}

// Methods read from a JS object, each one Lua function: `obj:m(1)` calls `m` with `this` obj.
const methods = new WeakMap();

function methodOf(f) {
  let m = methods.get(f);
  if (!m) {
    m = function method(self, ...args) { return f.apply(self, args); };
    methods.set(f, m);
  }
  return m;
}

/** A metamethod of a host object (`HostCall`): `obj[key]`, `obj[key] = value`, `tostring(obj)`. */
function objectCall(id, [object, key, value]) {
  switch (id) {
    case HostCall.INDEX: {
      const v = object[key];
      return typeof v === 'function' ? methodOf(v) : v;
    }
    case HostCall.NEW_INDEX:
      object[key] = value;
      return undefined;
    case HostCall.TO_STRING: {
      const s = String(object);
      return s === '[object Object]' ? `[object ${object.constructor?.name || 'Object'}]` : s;
    }
    default: throw new CodecError(`unknown host call ${id}`);
  }
}
