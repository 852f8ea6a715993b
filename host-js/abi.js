// The only module that touches `instance.exports` and `memory.buffer` (ABI v1; the protocol is
// described at the top of crates/wasm/src/abi.rs). Views of memory are re-made after every
// call, because memory growth detaches them.

import { ExternalTables } from './tables.js';
import { AbiError } from './errors.js';
import { encodeValue } from './codec.js';

export { AbiError };

/** Return codes of the exports; mirrors `Status` in crates/wasm/src/abi.rs. */
export const Status = Object.freeze({
  OK: 0, SYNTAX: -1, RUNTIME: -2, INSTRUCTION_LIMIT: -3, MEMORY_LIMIT: -4, BAD_INPUT: -5, PENDING: -6, EXIT: -7,
  WAITING_FOR_HOST: -8,
});

/** Error kinds by number (the negated status). */
export const ErrorKind = Object.freeze({
  1: 'syntax', 2: 'runtime', 3: 'instruction-limit', 4: 'memory-limit', 5: 'bad-input', 7: 'exit',
});

/** What a host without a capability answers (`ENOSYS`, as the VM words it). */
export class Unavailable extends Error {
  constructor() { super('not available in this sandbox'); this.errno = 38; }
}

const unavailable = () => { throw new Unavailable(); };

/** A host without files: every call fails as the VM expects (see `Abi.imports`). */
const NO_FILES = Object.freeze({
  open: unavailable, read: unavailable, write: unavailable, seek: unavailable, close: unavailable,
  remove: unavailable, rename: unavailable, tmpname: unavailable,
});

export const ABI_VERSION = 1;

/** The handles every state has (`crates/engine/src/handles.rs`). */
export const Handle = Object.freeze({
  GLOBAL_GET: 1, GLOBAL_SET: 2, TABLE_OPEN: 3, TABLE_GET: 4, TABLE_SET: 5, TABLE_LENGTH: 6, TABLE_ITERATE: 7,
});

/** The ids of host calls the module makes itself (`crates/engine/src/handles.rs`): a read
 * waiting for standard input, and the metamethods of a host object. */
export const HostCall = Object.freeze({ STDIN: 0, INDEX: -1, NEW_INDEX: -2, TO_STRING: -3 });

const utf8 = new TextEncoder();

/** Compiles a module from whatever the caller has: Module, bytes, Response or promise of one. */
export async function compileModule(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  if (typeof Response !== 'undefined' && source instanceof Response) {
    return WebAssembly.compile(await source.arrayBuffer());
  }
  throw new AbiError('expected a WebAssembly.Module, bytes or a Response');
}

/**
 * One instantiated module with its external tables.
 *
 * `output(bytes)` receives what Lua prints (a copy). `tables` may be passed in so that a
 * re-instantiated module keeps the same data after a trap.
 */
export class Abi {
  constructor(instance, tables) {
    this.instance = instance;
    this.exports = instance.exports;
    this.tables = tables;
    if (this.exports.abi_version() !== ABI_VERSION) {
      throw new AbiError(`module speaks ABI v${this.exports.abi_version()}, host speaks v${ABI_VERSION}`);
    }
    this.bufferPtr = this.exports.get_buffer_ptr();
    this.bufferSize = this.exports.get_buffer_size();
  }

  /** Instantiates `module` (compiled) asynchronously; see `imports` for the options. */
  static async instantiate(module, options = {}) {
    const { env, bind, tables } = Abi.imports(options);
    const instance = await WebAssembly.instantiate(module, { env });
    bind(instance);
    return new Abi(instance, tables);
  }

  /** As `instantiate`, synchronously (used to restart after a trap without awaiting). */
  static instantiateSync(module, options = {}) {
    const { env, bind, tables } = Abi.imports(options);
    const instance = new WebAssembly.Instance(module, { env });
    bind(instance);
    return new Abi(instance, tables);
  }

  /**
   * The `env` imports. Options: `tables` (an ExternalTables, kept across restarts),
   * `output(bytes)` (print output, a copy), `random(view)`, `now()`, `clock()`;
   * `stderr(bytes)` (a copy), `stdin(view)` (fills the view from standard input, returns how
   * many bytes; 0 at its end), `getenv(name)` (a string or undefined) and `files`: `open(path,
   * mode)` (path bytes; mode 0-5 `r w a r+ w+ a+`, 6 a temporary file) returning a handle,
   * `read(handle, view)`, `write(handle, bytes)`, `seek(handle, whence, offset)` (whence 0 set,
   * 1 cur, 2 end; the new position), `close(handle)`, `remove(path)`, `rename(from, to)`,
   * `tmpname()`. A failure throws an error with `errno` (C's number) and the message C's
   * `strerror` gives; without `files` every call fails as `Unavailable`. `releaseObject(id)`:
   * Lua holds host object `id` no longer.
   */
  static imports({
    tables = new ExternalTables(), output = () => {}, random, now, clock,
    stderr = () => {}, stdin = () => 0, getenv = () => undefined, files = NO_FILES, releaseObject = () => {},
  } = {}) {
    let memory = null;
    // The message of the last failed call, for `js_error_text`.
    let errorText = '';
    const view = (ptr, len) => new Uint8Array(memory.buffer, ptr, len);
    // Writes `data` at `ptr` if it fits in `max`; its full length either way.
    const put = (ptr, max, data) => {
      if (data.length <= max) view(ptr, data.length).set(data);
      return data.length;
    };
    const attempt = (fn) => {
      try {
        return fn();
      } catch (e) {
        const known = Number.isInteger(e?.errno) && e.errno > 0;
        errorText = known ? e.message : `${e?.name ?? 'Error'}: ${e?.message ?? e}`;
        return known ? -e.errno : -5;
      }
    };
    const env = {
      ...tables.imports(() => memory),
      js_output: (ptr, len) => output(new Uint8Array(memory.buffer).slice(ptr, ptr + len)),
      js_random: (ptr, len) => {
        const view = new Uint8Array(memory.buffer, ptr, len);
        if (random) random(view);
        else for (let i = 0; i < len; i += 65536) crypto.getRandomValues(view.subarray(i, i + 65536));
      },
      js_now: now ?? (() => Date.now()),
      js_clock: clock ?? (() => performance.now()),
      js_stderr: (ptr, len) => stderr(view(ptr, len).slice()),
      js_stdin: (ptr, max) => attempt(() => stdin(view(ptr, max))),
      js_getenv: (ptr, len, out, max) => {
        const value = getenv(new TextDecoder().decode(view(ptr, len)));
        return typeof value === 'string' ? put(out, max, utf8.encode(value)) : -1;
      },
      js_file_open: (ptr, len, mode) => attempt(() => files.open(view(ptr, len).slice(), mode)),
      js_file_read: (file, ptr, max) => attempt(() => files.read(file, view(ptr, max))),
      js_file_write: (file, ptr, len) => attempt(() => { files.write(file, view(ptr, len)); return 0; }),
      js_file_seek: (file, whence, offset) => attempt(() => files.seek(file, whence, offset)),
      js_file_close: (file) => attempt(() => { files.close(file); return 0; }),
      js_file_remove: (ptr, len) => attempt(() => { files.remove(view(ptr, len).slice()); return 0; }),
      js_file_rename: (from, fromLen, to, toLen) => attempt(() => {
        files.rename(view(from, fromLen).slice(), view(to, toLen).slice());
        return 0;
      }),
      js_file_tmpname: (ptr, max) => attempt(() => put(ptr, max, utf8.encode(files.tmpname()))),
      js_error_text: (ptr, max) => put(ptr, max, utf8.encode(errorText)),
      js_release_object: (id) => releaseObject(id),
    };
    return { env, tables, bind: (instance) => { memory = instance.exports.memory; } };
  }

  get memory() { return this.exports.memory; }
  bytes() { return new Uint8Array(this.exports.memory.buffer); }

  /** Copies `data` into the IO buffer at `offset`. */
  writeBuffer(data, offset = 0) {
    if (offset + data.length > this.bufferSize) throw new AbiError('argument larger than the IO buffer');
    this.bytes().set(data, this.bufferPtr + offset);
  }

  /** A copy of `len` bytes of the IO buffer from `offset`. */
  readBuffer(len, offset = 0) {
    return this.bytes().slice(this.bufferPtr + offset, this.bufferPtr + offset + len);
  }

  /** The whole result or error payload of the last run, `length` bytes, via `result_read`. */
  readResult(length) {
    const out = new Uint8Array(length);
    let at = 0;
    while (at < length) {
      const n = this.exports.result_read(at);
      if (n <= 0) throw new AbiError(`result_read(${at}) returned ${n}`);
      out.set(this.readBuffer(n), at);
      at += n;
    }
    return out;
  }

  /** The error payload after a failed run. */
  readErrorPayload() {
    const head = this.readBuffer(4);
    const len = new DataView(head.buffer).getUint32(0, true);
    return this.readResult(4 + len);
  }

  /** After a trap: the panic message that caused it, or '' (safe on a trapped instance). */
  panicMessage() {
    try {
      const n = this.exports.get_panic_message();
      return new TextDecoder().decode(this.readBuffer(n - 4, 4));
    } catch {
      return '';
    }
  }

  /** The message left by a failed non-run call. */
  lastError() {
    const n = this.exports.get_last_error();
    return new TextDecoder().decode(this.readBuffer(n - 4, 4));
  }

  /** The strings the next chunk gets as `...`. */
  setChunkArgs(args) {
    const parts = args.map((a) => encodeValue(typeof a === 'string' ? a : new Uint8Array(a)));
    const count = new Uint8Array(4);
    new DataView(count.buffer).setUint32(0, parts.length, true);
    const b = concatBytes([count, ...parts]);
    this.writeBuffer(b);
    if (this.exports.set_chunk_args(this.bufferPtr, b.length) !== 0) throw new AbiError(this.lastError());
  }

  /** The next chunk's results go to the global `print` instead of the result. */
  printNextResults() {
    if (this.exports.print_next_results() !== 0) throw new AbiError(this.lastError());
  }

  setChunkName(name) {
    const b = utf8.encode(name);
    this.writeBuffer(b);
    if (this.exports.set_chunk_name(this.bufferPtr, b.length) !== 0) throw new AbiError(this.lastError());
  }

  /** Stages `code` (bytes) in IO-buffer-sized pieces. */
  stage(code) {
    this.exports.input_reset();
    for (let at = 0; at < code.length; at += this.bufferSize) {
      const piece = code.subarray(at, at + this.bufferSize);
      this.writeBuffer(piece);
      if (this.exports.input_append(piece.length) !== 0) throw new AbiError(this.lastError());
    }
  }

  /**
   * Runs `code` (string or bytes) to completion. Returns `{ status, payload }`: on success
   * status >= 0 and payload the encoded results; otherwise the error payload.
   */
  compute(code) {
    const bytes = typeof code === 'string' ? utf8.encode(code) : code;
    let status;
    if (bytes.length <= this.bufferSize) {
      this.writeBuffer(bytes);
      status = this.exports.compute(this.bufferPtr, bytes.length);
    } else {
      this.stage(bytes);
      status = this.exports.compute_input();
    }
    return this.outcome(status);
  }

  /** Compiles `code` for `resume`. Returns an outcome only if compilation failed. */
  start(code) {
    const bytes = typeof code === 'string' ? utf8.encode(code) : code;
    this.stage(bytes);
    const status = this.exports.start_input();
    return status === Status.OK ? null : this.outcome(status);
  }

  /**
   * Prepares a call of function handle `handle` (`input` from codec's `encodeCall`) for
   * `resume`. Returns an outcome only if the module refused it.
   */
  startCall(input) {
    this.stage(input);
    const status = this.exports.call_input();
    return status === Status.OK ? null : this.outcome(status);
  }

  /** Functions in results become handles (on) or opaque values (off, the module default). */
  setFunctionHandles(on) {
    if (this.exports.set_function_handles(on ? 1 : 0) !== 0) throw new AbiError(this.lastError());
  }

  /** Answers the host function the run waits for (`answer` from codec's `encodeAnswer`). */
  hostReturn(answer) {
    this.stage(answer);
    if (this.exports.host_return() !== 0) throw new AbiError(this.lastError());
  }

  /** Lets the module forget upvalue cell `id` (no stored function refers to it any more). */
  releaseCell(id) { this.exports.release_cell(id >>> 0); }

  /** Lets the module collect the function or table behind `handle`. */
  releaseHandle(handle) {
    if (this.exports.release_handle(handle >>> 0) !== 0) throw new AbiError(this.lastError());
  }

  /**
   * Runs about `fuel` instructions: `null` while pending, else the outcome (status
   * WAITING_FOR_HOST: the payload is `u32 len` + the call of a host function).
   */
  resume(fuel) {
    const status = this.exports.resume(fuel);
    return status === Status.PENDING ? null : this.outcome(status);
  }

  outcome(status) {
    if (status >= 0) return { status, payload: this.readResult(status) };
    return { status, payload: this.readErrorPayload() };
  }

  /** The seven fields of `get_memory_stats`. */
  memoryStats() {
    const n = this.exports.get_memory_stats(this.bufferPtr);
    if (n !== 28) throw new AbiError(this.lastError());
    const v = new DataView(this.readBuffer(28).buffer);
    const f = (i) => v.getUint32(i * 4, true);
    return {
      abiVersion: f(0), ioBufferBytes: f(1), wasmPages: f(2), linearMemoryBytes: f(2) * 65536,
      luaHeapBytes: f(3), luaHeapLimit: f(4), nextTableId: f(5), memoryTableId: f(6),
    };
  }

  /** (Re)creates the Lua state: a fresh `_home`, id counter back to the start. */
  init() {
    if (this.exports.init() !== 0) throw new AbiError(`init failed: ${this.lastError()}`);
  }

  setInstructionLimit(n) {
    if (this.exports.set_instruction_limit(n) !== 0) throw new AbiError(this.lastError());
  }

  setMemoryLimit(bytes) {
    // Past 4 GiB the u32 would wrap; the module lowers anything above 2 GiB to 2 GiB.
    if (this.exports.set_memory_limit(Math.min(bytes, 2 ** 32 - 1) >>> 0) !== 0) throw new AbiError(this.lastError());
  }

  /** Whether `load` accepts binary chunks (`string.dump` output); off by default. */
  setBinaryChunks(enabled) {
    if (this.exports.set_binary_chunks(enabled ? 1 : 0) !== 0) throw new AbiError(this.lastError());
  }

  memoryTableId() { return this.exports.get_memory_table_id(); }
  ioTableId() { return this.exports.get_io_table_id(); }
  tableCounter() { return this.exports.get_external_table_counter(); }

  syncTableCounter(next) {
    if (this.exports.sync_external_table_counter(next >>> 0) !== 0) throw new AbiError(this.lastError());
  }

  attachMemoryTable(id) {
    if (this.exports.attach_memory_table(id >>> 0) !== 0) throw new AbiError(this.lastError());
  }

  /** A new external-table id from the module (the only allocator of ids). */
  tableNew() {
    const id = this.exports.ext_table_new();
    if (id === 0) throw new AbiError(this.lastError());
    return id;
  }

  runGc() { this.exports.run_gc(); }

  /** Calls an `ext_table_*` export with encoded key (and value), through the IO buffer. */
  tableSet(id, key, value) {
    this.writeBuffer(key); this.writeBuffer(value, key.length);
    const p = this.bufferPtr;
    const r = this.exports.ext_table_set(id, p, key.length, p + key.length, value.length);
    if (r !== 0) throw new AbiError(this.lastError());
  }

  tableGet(id, key) {
    this.writeBuffer(key);
    const p = this.bufferPtr;
    const room = this.bufferSize - key.length;
    const r = this.exports.ext_table_get(id, p, key.length, p + key.length, room);
    if (r === -1) return undefined;
    if (r < 0) throw new AbiError(this.lastError());
    if (r > room) throw new AbiError(`value of ${r} bytes does not fit the IO buffer`);
    return this.readBuffer(r, key.length);
  }

  tableDelete(id, key) {
    this.writeBuffer(key);
    if (this.exports.ext_table_delete(id, this.bufferPtr, key.length) !== 0) throw new AbiError(this.lastError());
  }

  tableSize(id) {
    const r = this.exports.ext_table_size(id);
    if (r < 0) throw new AbiError(this.lastError());
    return r;
  }
}

function concatBytes(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}
