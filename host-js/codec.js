// The ABI v1 value encoding (see crates/engine/src/codec.rs), in JS.
//
// Decoding maps Lua to JS: nil -> null, boolean, integer -> number (BigInt past 2^53),
// float -> number, string -> string when valid UTF-8 (else Uint8Array), inline table ->
// Array (keys 1..n) or Map, external-table reference -> LuaTableRef, handle, host function
// and host object -> what the caller's `handle(id)`, `hostFunction(id)` and `hostObject(id)`
// make of them, other -> LuaOpaque.

export const Tag = Object.freeze({
  NIL: 0x00, BOOLEAN: 0x01, INTEGER: 0x02, FLOAT: 0x03, STRING: 0x04,
  FUNCTION: 0x05, OPAQUE: 0x06, TABLE_REF: 0x07, INLINE_TABLE: 0x08, HANDLE: 0x09,
  HOST_FUNCTION: 0x0a, HOST_OBJECT: 0x0b,
});

const MAX_INLINE_DEPTH = 64;

/** A reference to an external table, by id. */
export class LuaTableRef {
  constructor(id) { this.id = id; }
  toString() { return `external table: ${this.id}`; }
}

/** A Lua value JS cannot hold (a function, coroutine or userdata): its type name. */
export class LuaOpaque {
  constructor(type) { this.type = type; }
  toString() { return `<${this.type}>`; }
}

/** Thrown for bytes that are not a valid encoding. */
export class CodecError extends Error {
  constructor(message) { super(message); this.name = 'CodecError'; }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }
  need(n) {
    if (this.pos + n > this.bytes.length) throw new CodecError(`encoded value truncated at byte ${this.pos}`);
  }
  u8() { this.need(1); return this.bytes[this.pos++]; }
  u32() { this.need(4); const v = this.view.getUint32(this.pos, true); this.pos += 4; return v; }
  raw(n) { this.need(n); const s = this.bytes.subarray(this.pos, this.pos + n); this.pos += n; return s; }
}

function decodeString(raw) {
  try { return utf8.decode(raw); } catch { return raw.slice(); }
}

function readValue(r, depth, hooks) {
  const at = r.pos;
  const tag = r.u8();
  switch (tag) {
    case Tag.NIL: return null;
    case Tag.BOOLEAN: {
      const b = r.u8();
      if (b > 1) throw new CodecError(`boolean byte is not 0 or 1 at byte ${at + 1}`);
      return b === 1;
    }
    case Tag.INTEGER: {
      r.need(8);
      const v = r.view.getBigInt64(r.pos, true); r.pos += 8;
      return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
    }
    case Tag.FLOAT: { r.need(8); const v = r.view.getFloat64(r.pos, true); r.pos += 8; return v; }
    case Tag.STRING: return decodeString(r.raw(r.u32()));
    case Tag.FUNCTION: r.raw(r.u32()); return new LuaOpaque('function');
    case Tag.OPAQUE: return new LuaOpaque(new TextDecoder().decode(r.raw(r.u32())));
    case Tag.TABLE_REF: return new LuaTableRef(r.u32());
    case Tag.HANDLE: { const id = r.u32(); return hooks?.handle ? hooks.handle(id) : new LuaOpaque('function'); }
    case Tag.HOST_FUNCTION: { const id = r.u32(); return hooks?.hostFunction ? hooks.hostFunction(id) : new LuaOpaque('function'); }
    case Tag.HOST_OBJECT: { const id = r.u32(); return hooks?.hostObject ? hooks.hostObject(id) : new LuaOpaque('userdata'); }
    case Tag.INLINE_TABLE: {
      if (depth >= MAX_INLINE_DEPTH) throw new CodecError('inline tables nested too deeply');
      const n = r.u32();
      const entries = [];
      for (let i = 0; i < n; i++) entries.push([readValue(r, depth + 1, hooks), readValue(r, depth + 1, hooks)]);
      return tableFromEntries(entries);
    }
    default: throw new CodecError(`unknown value tag 0x${tag.toString(16).padStart(2, '0')} at byte ${at}`);
  }
}

// A Lua sequence (keys exactly 1..n) becomes an Array; anything else a Map.
function tableFromEntries(entries) {
  const n = entries.length;
  if (entries.every(([k]) => Number.isInteger(k) && k >= 1 && k <= n)) {
    const arr = new Array(n);
    for (const [k, v] of entries) arr[k - 1] = v;
    if (!arr.includes(undefined) || n === 0) return arr;
  }
  return new Map(entries);
}

/** Decodes one value that fills `bytes` exactly. */
export function decodeValue(bytes) {
  const r = new Reader(bytes);
  const v = readValue(r, 0);
  if (r.pos !== bytes.length) throw new CodecError(`unexpected bytes after value at ${r.pos}`);
  return v;
}

// Walks one value without building it (a load checks a million entries this way).
function skipValue(r, depth) {
  const at = r.pos;
  const tag = r.u8();
  switch (tag) {
    case Tag.NIL: return;
    case Tag.BOOLEAN: if (r.u8() > 1) throw new CodecError(`boolean byte is not 0 or 1 at byte ${at + 1}`); return;
    case Tag.INTEGER: case Tag.FLOAT: r.need(8); r.pos += 8; return;
    case Tag.STRING: case Tag.FUNCTION: case Tag.OPAQUE: { const n = r.u32(); r.need(n); r.pos += n; return; }
    case Tag.TABLE_REF: case Tag.HANDLE: case Tag.HOST_FUNCTION: case Tag.HOST_OBJECT: r.u32(); return;
    case Tag.INLINE_TABLE: {
      if (depth >= MAX_INLINE_DEPTH) throw new CodecError('inline tables nested too deeply');
      const n = r.u32();
      for (let i = 0; i < 2 * n; i++) skipValue(r, depth + 1);
      return;
    }
    default: throw new CodecError(`unknown value tag 0x${tag.toString(16).padStart(2, '0')} at byte ${at}`);
  }
}

/** Checks that `bytes` hold exactly one well-formed value, without decoding it. */
export function checkValue(bytes) {
  const r = new Reader(bytes);
  skipValue(r, 0);
  if (r.pos !== bytes.length) throw new CodecError(`unexpected bytes after value at ${r.pos}`);
}

/**
 * Decodes a compute result: `u32 count` then the values. `hooks.handle(id)`,
 * `hooks.hostFunction(id)` and `hooks.hostObject(id)` give handles, host functions and host
 * objects their JS values (default: LuaOpaque).
 */
export function decodeResults(bytes, hooks) {
  const r = new Reader(bytes);
  const n = r.u32();
  const out = [];
  for (let i = 0; i < n; i++) out.push(readValue(r, 0, hooks));
  if (r.pos !== bytes.length) throw new CodecError(`unexpected bytes after results at ${r.pos}`);
  return out;
}

/** Decodes an error payload: `u32 len` then a UTF-8 message. */
export function decodeMessage(bytes) {
  const r = new Reader(bytes);
  return new TextDecoder().decode(r.raw(r.u32()));
}

class Writer {
  constructor() { this.buf = new Uint8Array(64); this.view = new DataView(this.buf.buffer); this.len = 0; }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next; this.view = new DataView(next.buffer);
  }
  u8(b) { this.reserve(1); this.buf[this.len++] = b; }
  u32(n) { this.reserve(4); this.view.setUint32(this.len, n, true); this.len += 4; }
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  done() { return this.buf.slice(0, this.len); }
}

/** Whether `v` (an object) is copied into a Lua table: an Array, a Map, or an object whose
 * prototype is Object.prototype or null. Other objects go to Lua by reference. */
export function isPlain(v) {
  if (Array.isArray(v) || v instanceof Map) return true;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function writeValue(w, v, asKey, depth, refOf) {
  if (v === null || v === undefined) {
    if (asKey) throw new CodecError('table key is nil');
    w.u8(Tag.NIL);
  } else if (typeof v === 'boolean') {
    w.u8(Tag.BOOLEAN); w.u8(v ? 1 : 0);
  } else if (typeof v === 'bigint') {
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new CodecError('integer out of the 64-bit range');
    w.u8(Tag.INTEGER); w.reserve(8); w.view.setBigInt64(w.len, v, true); w.len += 8;
  } else if (typeof v === 'number') {
    if (Number.isNaN(v) && asKey) throw new CodecError('table key is NaN');
    // Keys follow Lua's normalisation (2.0 and -0.0 name integer keys); values keep floats
    // that JS cannot tell from integers as integers only when exactly representable.
    const integral = asKey
      ? Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63
      : Number.isSafeInteger(v) && !Object.is(v, -0);
    if (integral) {
      w.u8(Tag.INTEGER); w.reserve(8); w.view.setBigInt64(w.len, BigInt(v), true); w.len += 8;
    } else {
      w.u8(Tag.FLOAT); w.reserve(8); w.view.setFloat64(w.len, v, true); w.len += 8;
    }
  } else if (typeof v === 'string' || v instanceof Uint8Array) {
    const b = typeof v === 'string' ? utf8Encoder.encode(v) : v;
    w.u8(Tag.STRING); w.u32(b.length); w.bytes(b);
  } else if (v instanceof LuaTableRef) {
    w.u8(Tag.TABLE_REF); w.u32(v.id);
  } else if (!asKey && refOf && (typeof v === 'function' || (typeof v === 'object' && !isPlain(v)))) {
    const [tag, id] = refOf(v);
    w.u8(tag); w.u32(id);
  } else if (!asKey && typeof v === 'object') {
    if (depth >= MAX_INLINE_DEPTH) throw new CodecError('inline tables nested too deeply');
    const entries = Array.isArray(v) ? v.map((x, i) => [i + 1, x])
      : v instanceof Map ? [...v.entries()] : Object.entries(v);
    w.u8(Tag.INLINE_TABLE); w.u32(entries.length);
    for (const [k, x] of entries) { writeValue(w, k, true, depth + 1); writeValue(w, x, false, depth + 1, refOf); }
  } else {
    throw new CodecError(`cannot encode a ${typeof v} ${asKey ? 'key' : 'value'}`);
  }
}

/**
 * Encodes a JS value (inverse of decodeValue for scalars, refs and plain containers).
 * `refOf(v)` gives a function or an object that is not plain its `[tag, id]` (it throws for
 * what it cannot pass); without it, functions cannot be encoded and objects are copied.
 */
export function encodeValue(v, { refOf } = {}) { const w = new Writer(); writeValue(w, v, false, 0, refOf); return w.done(); }

/** A call's staged input: `u32 handle`, `u32 count`, then each argument. */
export function encodeCall(handle, args, options) {
  const w = new Writer();
  w.u32(handle); w.u32(args.length);
  for (const a of args) writeValue(w, a, false, 0, options?.refOf);
  return w.done();
}

/** The answer to a waiting host function: `00 u32 count` + `values`, or `01` + `error`. */
export function encodeAnswer({ values, error }, options) {
  const w = new Writer();
  if (values) {
    w.u8(0); w.u32(values.length);
    for (const v of values) writeValue(w, v, false, 0, options?.refOf);
  } else {
    w.u8(1); writeValue(w, error, false, 0);
  }
  return w.done();
}

/** Encodes a table key: integral numbers become integers, as Lua normalises them. */
export function encodeKey(v) { const w = new Writer(); writeValue(w, v, true, 0); return w.done(); }
