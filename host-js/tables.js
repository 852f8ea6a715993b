// External tables in JS: one `Table` per table id, and the `js_ext_table_*` imports over them.
//
// A table keeps compact values (see `compactValue`) in an array part for keys 1..n and a hash
// part (a Map from a Map key, see `keyString`, to a slot) for the rest. Iteration order is the
// array part by index, then the hash part in insertion order. `js_ext_table_next` pages from
// the key the module names, found in O(1), so a traversal is O(n) however many pages it takes
// and however many traversals interleave. References between tables (tag 07) are counted as
// they are written, so finding what `_home` reaches never scans every entry.

const INTEGER = 0x02;
const FUNCTION = 0x05;
const TABLE_REF = 0x07;
/** What follows the id list of a function payload in the current format: "\x1bLPF". */
const FUNCTION_MARKER = [0x1b, 0x4c, 0x50, 0x46];
/** Fewest new cells that make a collection of cells worth a pass over every table. */
const MIN_CELLS_TO_COLLECT = 1024;
const TWO_32 = 4294967296;

/**
 * The Map key for an encoded key: the integer itself for integer keys within 2^53 (fast, and
 * never equal to a string), else the encoding as a binary string, so equal encodings are equal
 * keys. `keyBytes` inverts it.
 */
export function keyString(bytes, start = 0, len = bytes.length - start) {
  if (len === 9 && bytes[start] === INTEGER) {
    const n = safeInteger(bytes, start);
    if (n !== undefined) return n;
  }
  return binaryString(bytes, start, len);
}

// The integer encoded at `bytes[start]` (tag 02) if it is within 2^53, else undefined.
function safeInteger(bytes, start) {
  const lo = (bytes[start + 1] | (bytes[start + 2] << 8) | (bytes[start + 3] << 16) | (bytes[start + 4] << 24)) >>> 0;
  const hi = bytes[start + 5] | (bytes[start + 6] << 8) | (bytes[start + 7] << 16) | (bytes[start + 8] << 24);
  return hi >= -0x200000 && hi < 0x200000 ? hi * TWO_32 + lo : undefined;
}

// One reusable array per short length: `apply` over a plain array of small integers is
// several times faster than over a fresh typed-array view, and most keys and values are short.
const SHORT = 64;
const scratch = Array.from({ length: SHORT + 1 }, (_, n) => new Array(n).fill(0));

/** `len` bytes from `start` as a binary string (one char per byte). */
function binaryString(bytes, start, len) {
  if (len <= SHORT) {
    const a = scratch[len];
    for (let i = 0; i < len; i++) a[i] = bytes[start + i];
    return String.fromCharCode.apply(null, a);
  }
  let s = '';
  for (let i = 0; i < len; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(start + i, start + Math.min(len, i + 8192)));
  }
  return s;
}

/** The encoded key bytes for a Map key made by `keyString`. */
export function keyBytes(k) {
  const b = new Uint8Array(typeof k === 'number' ? 9 : k.length);
  writeKey(b, 0, k);
  return b;
}

function writeKey(mem, at, k) {
  if (typeof k === 'number') writeInteger(mem, at, k);
  else writeBinary(mem, at, k);
}

function writeInteger(mem, at, n) {
  const hi = Math.floor(n / TWO_32);
  const lo = n - hi * TWO_32;
  mem[at] = INTEGER;
  for (let i = 0; i < 4; i++) mem[at + 1 + i] = (lo >>> (8 * i)) & 0xff;
  for (let i = 0; i < 4; i++) mem[at + 5 + i] = (hi >> (8 * i)) & 0xff;
}

function writeBinary(mem, at, s) {
  for (let i = 0; i < s.length; i++) mem[at + i] = s.charCodeAt(i);
}

// Values up to this size are kept as binary strings: far cheaper for V8 than one typed array
// (with its own backing store) per entry.
const COMPACT_VALUE_BYTES = 4096;

/**
 * The compact form of the encoded value at `bytes[start..start+len]`: a number for an integer
 * within 2^53 (no allocation at all), a binary string up to COMPACT_VALUE_BYTES, else a copy.
 */
function compactValue(bytes, start, len) {
  if (len === 9 && bytes[start] === INTEGER) {
    const n = safeInteger(bytes, start);
    if (n !== undefined) return n;
  }
  return len <= COMPACT_VALUE_BYTES ? binaryString(bytes, start, len) : bytes.slice(start, start + len);
}

/**
 * One entry of a table, as other modules see it (stores, persistence, the page). `key` and
 * `value` are Uint8Array encodings made on demand; the entry itself keeps the Map key and a
 * compact value (see `compactValue`).
 */
export class Entry {
  constructor(k, v) { this.k = k; this.v = v; }
  /** An entry for Map key `k` and encoded `value` (copied: `value` may be a view). */
  static of(k, value) { return new Entry(k, compactValue(value, 0, value.length)); }
  get key() { return keyBytes(this.k); }
  get value() {
    if (typeof this.v === 'object') return this.v;
    const b = new Uint8Array(this.valueLength);
    this.writeValue(b, 0);
    return b;
  }
  /** The value as a binary string or bytes (what stores keep). */
  get storedValue() {
    if (typeof this.v !== 'number') return this.v;
    const b = new Uint8Array(9);
    writeInteger(b, 0, this.v);
    return String.fromCharCode.apply(null, b);
  }
  get keyLength() { return keyLength(this.k); }
  get valueLength() { return valueLength(this.v); }
  writeKey(mem, at) { writeKey(mem, at, this.k); }
  writeValue(mem, at) { writeValue(mem, at, this.v); }
  /** The table id a key refers to (tag 07), or -1. */
  keyRef() { return keyRef(this.k); }
  /** The table ids a value refers to: a reference (07), or the tables a stored function reaches (05). */
  valueRefs() { return typeof this.v === 'number' ? NO_REFS : valueRefs(this.v); }
  /** The upvalue cells a stored function refers to; none for any other value. */
  cellRefs() { return typeof this.v === 'number' ? NO_REFS : cellRefs(this.v); }
}

function keyLength(k) { return typeof k === 'number' ? 9 : k.length; }
function valueLength(v) { return typeof v === 'number' ? 9 : v.length; }

function writeValue(mem, at, v) {
  if (typeof v === 'number') writeInteger(mem, at, v);
  else if (typeof v === 'string') writeBinary(mem, at, v);
  else mem.set(v, at);
}

function keyRef(k) { return typeof k === 'string' ? binaryRef(k) : -1; }

/**
 * One external table: an array part holding the values of keys 1..n (like Lua's own array
 * part: no key and no hash entry per element) and a hash part for every other key, in
 * insertion order. Values are compact (see `compactValue`); `undefined` marks an absent one.
 *
 * The hash part is our own open-addressing index over the slots (key, value, hash) rather
 * than a JS Map: a lookup hashes the key's bytes where the module wrote them and compares
 * them with the stored key, so reading makes no string, and V8's Map, which looks a fresh
 * string key up in its string table first, costs several times more per lookup.
 *
 * A deleted hash key keeps its slot until a later insertion tidies the table, so `next` from a
 * key deleted during a traversal still finds its place, and putting the key back (an undone
 * atomic run) restores its position. Other modules read through the Map-like view (`get`,
 * `size`, `keys`, `values`, `entries`), whose entries are made on demand.
 */
export class Table {
  constructor() {
    this.array = [];
    this.arrayHoles = 0;
    this.hashKeys = [];
    this.hashValues = [];
    this.hashCodes = [];
    this.hashDead = 0;
    /**
     * Open addressing, linear probing: slot + 1 per used cell, 0 for an empty one. Null while
     * the hash part has at most SMALL_HASH slots: those are searched in order, and a table
     * like `{id = 1, name = "x"}` costs no typed array.
     */
    this.index = null;
  }

  /** A table holding the entries of `map` (Map key -> Entry): keys 1, 2, ... first, in the array part. */
  static from(map) {
    const t = new Table();
    for (let i = 1; ; i++) {
      const e = map.get(i);
      if (e === undefined) break;
      t.array.push(e.v);
    }
    const n = t.array.length;
    for (const [k, e] of map) if (!(typeof k === 'number' && k >= 1 && k <= n)) t.put(k, e.v);
    return t;
  }

  get size() { return this.array.length - this.arrayHoles + this.hashKeys.length - this.hashDead; }

  /** The compact value under Map key `k`, or undefined. */
  value(k) {
    if (typeof k === 'number' && k >= 1 && k <= this.array.length) return this.array[k - 1];
    const slot = this.find(k, hashKey(k));
    return slot < 0 ? undefined : this.hashValues[slot];
  }

  /** The compact value under the key encoded at `mem[at..at+len]`, or undefined. */
  valueAt(mem, at, len) {
    if (len === 9 && mem[at] === INTEGER) {
      const n = safeInteger(mem, at);
      if (n !== undefined) return this.value(n);
    }
    if (this.hashKeys.length === 0) return undefined;
    const h = hashBytes(mem, at, len);
    const index = this.index;
    if (index === null) {
      for (let slot = 0; slot < this.hashKeys.length; slot++) {
        if (this.hashCodes[slot] === h && sameBytes(this.hashKeys[slot], mem, at, len)) return this.hashValues[slot];
      }
      return undefined;
    }
    const mask = index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const cell = index[i];
      if (cell === 0) return undefined;
      const slot = cell - 1;
      if (this.hashCodes[slot] === h && sameBytes(this.hashKeys[slot], mem, at, len)) return this.hashValues[slot];
    }
  }

  /** The hash slot of Map key `k` whose hash is `h`, or -1. */
  find(k, h) {
    const index = this.index;
    if (index === null) {
      for (let slot = 0; slot < this.hashKeys.length; slot++) {
        if (this.hashCodes[slot] === h && this.hashKeys[slot] === k) return slot;
      }
      return -1;
    }
    const mask = index.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const cell = index[i];
      if (cell === 0) return -1;
      if (this.hashCodes[cell - 1] === h && this.hashKeys[cell - 1] === k) return cell - 1;
    }
  }

  /** Stores compact value `v` under Map key `k`; returns the value it replaces, if any. */
  put(k, v) {
    const array = this.array;
    if (typeof k === 'number' && k >= 1 && k <= array.length) {
      const old = array[k - 1];
      if (old === undefined) this.arrayHoles--;
      array[k - 1] = v;
      return old;
    }
    const h = hashKey(k);
    const slot = this.find(k, h);
    if (slot >= 0) {
      const old = this.hashValues[slot];
      if (old === undefined) this.hashDead--;
      this.hashValues[slot] = v;
      return old;
    }
    if (k === array.length + 1) {
      array.push(v);
      return undefined;
    }
    const fresh = this.hashKeys.length;
    this.hashKeys.push(k);
    this.hashValues.push(v);
    this.hashCodes.push(h);
    if (this.index === null ? fresh >= SMALL_HASH : (fresh + 1) * 2 > this.index.length) this.reindex();
    else if (this.index !== null) this.place(fresh, h);
    return undefined;
  }

  place(slot, h) {
    const index = this.index;
    const mask = index.length - 1;
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  // A fresh index at most half full, for every slot.
  reindex() {
    let size = MIN_INDEX;
    while (size <= this.hashKeys.length * 2) size *= 2;
    this.index = new Int32Array(size);
    for (let slot = 0; slot < this.hashKeys.length; slot++) this.place(slot, this.hashCodes[slot]);
  }

  /** Removes Map key `k`; returns the value it had, if any. */
  remove(k) {
    if (typeof k === 'number' && k >= 1 && k <= this.array.length) {
      const old = this.array[k - 1];
      if (old !== undefined) { this.array[k - 1] = undefined; this.arrayHoles++; }
      return old;
    }
    const slot = this.find(k, hashKey(k));
    if (slot < 0) return undefined;
    const old = this.hashValues[slot];
    if (old !== undefined) { this.hashValues[slot] = undefined; this.hashDead++; }
    return old;
  }

  /**
   * Gives back what deletions left behind: trailing holes of the array part, an array part
   * that is mostly holes (its entries move to the hash part), and deleted hash slots once they
   * outnumber the live ones. Called after an insertion, when Lua allows a traversal to break.
   */
  tidy() {
    const array = this.array;
    while (array.length > 0 && array[array.length - 1] === undefined) { array.pop(); this.arrayHoles--; }
    if (this.arrayHoles > MIN_TIDY && this.arrayHoles * 2 > array.length) {
      this.array = [];
      this.arrayHoles = 0;
      for (let i = 0; i < array.length; i++) if (array[i] !== undefined) this.put(i + 1, array[i]);
    }
    if (this.hashDead > MIN_TIDY && this.hashDead * 2 > this.hashKeys.length) {
      const keys = this.hashKeys;
      const values = this.hashValues;
      this.hashKeys = [];
      this.hashValues = [];
      this.hashCodes = [];
      this.hashDead = 0;
      this.index = null;
      for (let i = 0; i < keys.length; i++) if (values[i] !== undefined) this.put(keys[i], values[i]);
    }
  }

  /**
   * The position just after Map key `k` in this table's order (array part, then hash part), or
   * -1 when `k` is not a key of the table (nor a deleted one whose place is still known).
   */
  positionAfter(k) {
    if (typeof k === 'number' && k >= 1 && k <= this.array.length) return k;
    const slot = this.find(k, hashKey(k));
    return slot < 0 ? -1 : this.array.length + slot + 1;
  }

  /**
   * Writes the entries from `position` on into `mem` at `at`, (key, value) encodings back to
   * back, as many as fit in `max` bytes. Returns the bytes written, or when not even the first
   * entry fits, the bytes it needs; 0 at the end.
   */
  writePage(mem, position, at, max) {
    const array = this.array;
    let written = 0;
    for (let i = position; i < array.length; i++) {
      const v = array[i];
      if (v === undefined) continue;
      const need = 9 + valueLength(v);
      if (written + need > max) return written === 0 ? need : written;
      writeInteger(mem, at + written, i + 1);
      writeValue(mem, at + written + 9, v);
      written += need;
    }
    const keys = this.hashKeys;
    const values = this.hashValues;
    for (let i = Math.max(0, position - array.length); i < keys.length; i++) {
      const v = values[i];
      if (v === undefined) continue;
      const k = keys[i];
      const klen = keyLength(k);
      const need = klen + valueLength(v);
      if (written + need > max) return written === 0 ? need : written;
      writeKey(mem, at + written, k);
      writeValue(mem, at + written + klen, v);
      written += need;
    }
    return written;
  }

  /** [Map key, compact value] of every entry, in order. */
  *pairs() {
    const array = this.array;
    for (let i = 0; i < array.length; i++) if (array[i] !== undefined) yield [i + 1, array[i]];
    const keys = this.hashKeys;
    const values = this.hashValues;
    for (let i = 0; i < keys.length; i++) if (values[i] !== undefined) yield [keys[i], values[i]];
  }

  /** The entry under Map key `k`, or undefined. */
  get(k) {
    const v = this.value(k);
    return v === undefined ? undefined : new Entry(k, v);
  }

  has(k) { return this.value(k) !== undefined; }
  *keys() { for (const [k] of this.pairs()) yield k; }
  *values() { for (const [k, v] of this.pairs()) yield new Entry(k, v); }
  *entries() { for (const [k, v] of this.pairs()) yield [k, new Entry(k, v)]; }
  [Symbol.iterator]() { return this.entries(); }
}

/** Holes or deleted slots below this many are left alone (tidying a small table gains nothing). */
const MIN_TIDY = 32;
const SMALL_HASH = 8;
const MIN_INDEX = 32;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// Hashes keep 30 bits: small integers (Smis) for V8, so `hashCodes` holds no boxed numbers.
const HASH_BITS = 0x3fffffff;

/** The hash of a Map key: equal for a binary string and the bytes it was made from (`hashBytes`). */
function hashKey(k) {
  if (typeof k === 'number') {
    const h = Math.imul((k | 0) ^ (Math.floor(k / TWO_32) | 0), 0x9e3779b1);
    return (h ^ (h >>> 15)) & HASH_BITS;
  }
  let h = FNV_OFFSET;
  for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), FNV_PRIME);
  return h & HASH_BITS;
}

function hashBytes(mem, at, len) {
  let h = FNV_OFFSET;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ mem[at + i], FNV_PRIME);
  return h & HASH_BITS;
}

/** Whether Map key `k` is the binary string of `mem[at..at+len]`. */
function sameBytes(k, mem, at, len) {
  if (typeof k !== 'string' || k.length !== len) return false;
  for (let i = 0; i < len; i++) if (k.charCodeAt(i) !== mem[at + i]) return false;
  return true;
}

function u32At(b, at) {
  return typeof b === 'string'
    ? (b.charCodeAt(at) | (b.charCodeAt(at + 1) << 8) | (b.charCodeAt(at + 2) << 16) | (b.charCodeAt(at + 3) << 24)) >>> 0
    : (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function tagOf(b) { return typeof b === 'string' ? b.charCodeAt(0) : b[0]; }

function byteAt(b, at) { return typeof b === 'string' ? b.charCodeAt(at) : b[at]; }

function binaryRef(s) {
  return s.length === 5 && s.charCodeAt(0) === TABLE_REF ? u32At(s, 1) : -1;
}

const NO_REFS = [];

/**
 * Table ids an encoded value (string or bytes) refers to. A function (05) payload starts with
 * the list of every table it reaches: `u32 n, n × u32` (see crates/engine/src/function.rs).
 */
export function valueRefs(v) {
  const tag = tagOf(v);
  if (tag === TABLE_REF && v.length === 5) return [u32At(v, 1)];
  if (tag !== FUNCTION || v.length < 9) return NO_REFS;
  const n = u32At(v, 5);
  if (9 + 4 * n > v.length) return NO_REFS;
  const out = [];
  for (let i = 0; i < n; i++) out.push(u32At(v, 9 + 4 * i));
  return out;
}

/**
 * The tables a function (05) payload in the current format refers to: its upvalue cells,
 * tables that only stored functions refer to. (A payload of the piccolo era, refused when
 * read, may list ordinary tables: it names no cells.)
 */
function cellRefs(v) {
  if (tagOf(v) !== FUNCTION) return NO_REFS;
  const refs = valueRefs(v);
  const at = 9 + 4 * refs.length;
  return FUNCTION_MARKER.every((b, i) => byteAt(v, at + i) === b) ? refs : NO_REFS;
}

/** The external tables of one module instance, plus change tracking for incremental saves. */
export class ExternalTables {
  constructor() {
    /** @type {Map<number, Table>} */
    this.tables = new Map();
    /** Per table, the Map keys written or deleted since the last `takeChanges()`. */
    this.dirty = new Map();
    /** Encoded bytes held (keys + values), for memory statistics. */
    this.bytes = 0;
    /** Per table, how many of its keys and values refer to each other table. */
    this.refs = new Map();
    /**
     * Whether writes are recorded for `takeChanges()`. An engine without a store turns this
     * off so the record does not grow without bound.
     */
    this.trackChanges = true;
    /** The undo record of the atomic run in progress (a `Journal`), or null. */
    this.journal = null;
    /** Ids of the upvalue cells stored functions have referred to (see `collectCells`). */
    this.cells = new Set();
    this.cellsAfterCollection = 0;
  }

  table(id) {
    let t = this.tables.get(id);
    if (!t) { t = new Table(); this.tables.set(id, t); }
    return t;
  }

  markDirty(id, k) {
    if (!this.trackChanges) return;
    let d = this.dirty.get(id);
    if (!d) { d = new Set(); this.dirty.set(id, d); }
    d.add(k);
  }

  set(id, key, value) {
    const k = keyString(key);
    this.putEntry(id, Entry.of(k, value));
    this.markDirty(id, k);
  }

  /**
   * Takes `map` (Map key -> Entry) as table `id`'s contents, replacing them (a restore).
   * `account` is what `readSnapshot` counted: the bytes `map` holds and, per table it refers
   * to, how many references.
   */
  adopt(id, map, account) {
    this.clearTable(id);
    this.tables.set(id, Table.from(map));
    this.bytes += account.bytes;
    this.refs.set(id, account.refs);
  }

  /** Stores `entry` in table `id` without marking it changed (every write comes through here). */
  putEntry(id, entry) {
    const t = this.table(id);
    const old = t.put(entry.k, entry.v);
    this.journal?.noteWrite(id, entry.k, old);
    if (old !== undefined) this.forget(id, entry.k, old);
    else if (this.journal === null) t.tidy();
    this.count(id, entry.k, entry.v);
  }

  // Accounts for value `v` now stored under `k`.
  count(id, k, v) {
    this.bytes += keyLength(k) + valueLength(v);
    this.countRef(id, keyRef(k), 1);
    if (typeof v === 'number') return;
    for (const ref of valueRefs(v)) this.countRef(id, ref, 1);
    for (const cell of cellRefs(v)) this.cells.add(cell);
  }

  // Undoes the accounting of value `v` under `k`, which is being replaced or removed.
  forget(id, k, v) {
    this.bytes -= keyLength(k) + valueLength(v);
    this.countRef(id, keyRef(k), -1);
    if (typeof v !== 'number') for (const ref of valueRefs(v)) this.countRef(id, ref, -1);
  }

  countRef(id, ref, delta) {
    if (ref < 0) return;
    let counts = this.refs.get(id);
    if (!counts) { counts = new Map(); this.refs.set(id, counts); }
    const n = (counts.get(ref) ?? 0) + delta;
    if (n > 0) counts.set(ref, n); else counts.delete(ref);
  }

  get(id, key) {
    return this.tables.get(id)?.get(keyString(key))?.value;
  }

  delete(id, key) {
    const t = this.tables.get(id);
    if (!t) return;
    const k = keyString(key);
    const old = t.remove(k);
    if (old !== undefined) {
      this.journal?.noteWrite(id, k, old);
      this.forget(id, k, old);
      this.markDirty(id, k);
    }
  }

  /** Number of tables that hold at least one entry. */
  get tableCount() { let n = 0; for (const t of this.tables.values()) if (t.size) n++; return n; }

  size(id) { return this.tables.get(id)?.size ?? 0; }

  /** The changed keys per table since the last call, and forgets them. */
  takeChanges() { const d = this.dirty; this.dirty = new Map(); return d; }

  /** Puts changes taken by `takeChanges()` back (a save that failed must retry them). */
  restoreChanges(changes) {
    for (const [id, keys] of changes) for (const k of keys) this.markDirty(id, k);
  }

  /** Table ids referenced by the keys and values of table `id`. */
  references(id) {
    const counts = this.refs.get(id);
    return counts ? [...counts.keys()] : [];
  }

  /** Drops everything (used before a restore). */
  clear() {
    this.tables.clear(); this.dirty.clear(); this.refs.clear(); this.bytes = 0;
    this.cells.clear(); this.cellsAfterCollection = 0;
  }

  /** Takes the cells of a restored state (`readSnapshot` found them). */
  adoptCells(ids) {
    for (const id of ids) this.cells.add(id);
    this.cellsAfterCollection = this.cells.size;
  }

  /**
   * Whether enough cells were made since the last `collectCells()` to pay for another: the
   * pass visits every table that refers to others.
   */
  get cellCollectionDue() {
    return this.cells.size - this.cellsAfterCollection >= Math.max(MIN_CELLS_TO_COLLECT, this.refs.size / 4);
  }

  /**
   * Drops the upvalue cells no stored function refers to any more (directly or through
   * other cells: a recursive function's cell holds the function) and returns their ids, for
   * the module to forget them too. Only stored functions refer to cells, so every other table
   * counts as live: a Lua variable this side cannot see may hold it. Call it between runs:
   * an atomic run's undo may bring back a function that refers to a cell.
   */
  collectCells() {
    const live = new Set();
    const todo = [];
    const mark = (id) => {
      for (const ref of this.references(id)) {
        if (this.cells.has(ref) && !live.has(ref)) { live.add(ref); todo.push(ref); }
      }
    };
    for (const id of this.refs.keys()) if (!this.cells.has(id)) mark(id);
    while (todo.length) mark(todo.pop());
    const dead = [...this.cells].filter((id) => !live.has(id));
    for (const id of dead) {
      this.clearTable(id);
      this.tables.delete(id); this.refs.delete(id); this.dirty.delete(id);
    }
    this.cells = live;
    this.cellsAfterCollection = live.size;
    return dead;
  }

  /** Empties one table (its removed keys count as changes). */
  clearTable(id) {
    const t = this.tables.get(id);
    if (!t) return;
    for (const [k, v] of t.pairs()) { this.forget(id, k, v); this.markDirty(id, k); }
    this.tables.set(id, new Table());
  }

  /**
   * The `js_ext_table_*` imports over these tables. `memory()` returns the module's current
   * `WebAssembly.Memory`; the view is re-made whenever memory growth has replaced the buffer.
   */
  imports(memory) {
    let view = null;
    // Growth detaches the old buffer, leaving the view empty: only then is it re-made.
    const bytes = () => {
      if (view === null || view.length === 0) view = new Uint8Array(memory().buffer);
      return view;
    };
    return {
      js_ext_table_set: (id, kptr, klen, vptr, vlen) => {
        const mem = bytes();
        const k = keyString(mem, kptr, klen);
        this.putEntry(id, new Entry(k, compactValue(mem, vptr, vlen)));
        this.markDirty(id, k);
        return 0;
      },
      js_ext_table_get: (id, kptr, klen, vptr, max) => {
        const t = this.tables.get(id);
        if (!t) return -1;
        const mem = bytes();
        const v = t.valueAt(mem, kptr, klen);
        if (v === undefined) return -1;
        const n = valueLength(v);
        if (n <= max) writeValue(mem, vptr, v);
        return n;
      },
      js_ext_table_delete: (id, kptr, klen) => {
        this.delete(id, bytes().subarray(kptr, kptr + klen));
        return 0;
      },
      js_ext_table_size: (id) => this.size(id),
      js_ext_table_keys: (id, ptr, max) => {
        const t = this.tables.get(id);
        let total = 4;
        if (t) for (const k of t.keys()) total += keyLength(k);
        if (total > max) return total;
        const mem = bytes();
        new DataView(mem.buffer).setUint32(ptr, t ? t.size : 0, true);
        let at = ptr + 4;
        if (t) for (const k of t.keys()) { writeKey(mem, at, k); at += keyLength(k); }
        return total;
      },
      js_ext_table_next: (id, kptr, klen, ptr, max) => {
        const t = this.tables.get(id);
        const mem = bytes();
        const position = klen === 0 ? 0 : t ? t.positionAfter(keyString(mem, kptr, klen)) : -1;
        if (position < 0) return NOT_A_KEY;
        return t ? t.writePage(mem, position, ptr, max) : 0;
      },
    };
  }
}

/** What `js_ext_table_next` answers when the key to continue after is not in the table. */
const NOT_A_KEY = -2;
