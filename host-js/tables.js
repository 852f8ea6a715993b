// External tables in JS: one `Table` per table id, and the `js_ext_table_*` imports over them.
//
// A table keeps the values of keys 1..n in an array part (compact values, see compact.js) and
// every other key with its value as encoded bytes in a hash part (see hash-part.js). Iteration
// order is the array part by index, then the hash part in insertion order. `js_ext_table_next`
// pages from the key the module names, found in O(1), so a traversal is O(n) however many
// pages it takes and however many traversals interleave. References between tables (tag 07)
// are counted as they are written, so finding what `_home` reaches never scans every entry.

import { INTEGER, TWO_32, safeInteger, binaryString, compactValue } from './compact.js';
import { HashPart } from './hash-part.js';

const FUNCTION = 0x05;
const TABLE_REF = 0x07;
/** What follows the id list of a function payload in the current format: "\x1bLPF". */
const FUNCTION_MARKER = [0x1b, 0x4c, 0x50, 0x46];
/** Fewest new cells that make a collection of cells worth a pass over every table. */
const MIN_CELLS_TO_COLLECT = 1024;
/** Fewest changed keys, and more than half the table's, that make a table saved whole. */
const MIN_KEYS_TO_REWRITE = 1024;

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

/** The encoded key bytes for a Map key made by `keyString`. */
export function keyBytes(k) {
  const b = new Uint8Array(keyLength(k));
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

/**
 * One entry of a table, as other modules see it (stores, persistence, the page). `key` and
 * `value` are Uint8Array encodings made on demand; the entry itself keeps the Map key and a
 * compact value (see compact.js).
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

// Map keys and compact values are encoded here to reach the hash part, which holds bytes.
let keyScratch = new Uint8Array(64);
let valueScratch = new Uint8Array(64);

function encodedKey(k) {
  const n = keyLength(k);
  if (keyScratch.length < n) keyScratch = new Uint8Array(2 * n);
  writeKey(keyScratch, 0, k);
  return keyScratch;
}

function encodedValue(v) {
  if (typeof v === 'object') return v;
  const n = valueLength(v);
  if (valueScratch.length < n) valueScratch = new Uint8Array(2 * n);
  writeValue(valueScratch, 0, v);
  return valueScratch;
}

/**
 * One external table: an array part holding the compact values of keys 1..n (like Lua's own
 * array part: no key and no hash entry per element; `undefined` marks an absent one) and a
 * hash part for every other key, in insertion order.
 *
 * The `...At` methods take a key (and a value) encoded where the module wrote them, so the
 * imports read and write without making a string. Other modules use Map keys (see
 * `keyString`) and compact values, and read through the Map-like view (`get`, `size`, `keys`,
 * `values`, `entries`), whose entries are made on demand.
 *
 * A deleted hash key keeps its slot until a later insertion tidies the table, so `next` from a
 * key deleted during a traversal still finds its place, and putting the key back (an undone
 * atomic run) restores its position.
 */
export class Table {
  constructor() {
    this.array = [];
    this.arrayHoles = 0;
    this.hash = new HashPart();
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

  get size() { return this.array.length - this.arrayHoles + this.hash.size; }

  /** The compact value under Map key `k`, or undefined. */
  value(k) {
    if (typeof k === 'number' && k >= 1 && k <= this.array.length) return this.array[k - 1];
    return this.hash.value(encodedKey(k), 0, keyLength(k));
  }

  /**
   * Copies the value under the key encoded at `mem[at..at+len]` to `mem[to..]` if it fits in
   * `max` bytes; returns its length, or -1 when the key is absent.
   */
  readAt(mem, at, len, to, max) {
    const n = arrayIndex(mem, at, len);
    if (n > this.array.length) return this.hash.read(mem, at, len, to, max);
    const v = this.array[n - 1];
    if (v === undefined) return -1;
    const vlen = valueLength(v);
    if (vlen <= max) writeValue(mem, to, v);
    return vlen;
  }

  /** Stores compact value `v` under Map key `k`; returns the value it replaces, if any. */
  put(k, v) {
    const array = this.array;
    if (typeof k === 'number' && k >= 1 && k <= array.length) return this.putInArray(k, v);
    const key = encodedKey(k);
    const klen = keyLength(k);
    if (k === array.length + 1 && this.hash.find(key, 0, klen) < 0) return this.putInArray(k, v);
    return this.hash.put(key, 0, klen, encodedValue(v), 0, valueLength(v));
  }

  /**
   * Stores the value encoded at `mem[vat..vat+vlen]` under the key encoded at
   * `mem[kat..kat+klen]`; returns the compact value it replaces, if any.
   */
  putAt(mem, kat, klen, vat, vlen) {
    const n = arrayIndex(mem, kat, klen);
    if (n <= this.array.length || (n === this.array.length + 1 && this.hash.find(mem, kat, klen) < 0)) {
      return this.putInArray(n, compactValue(mem, vat, vlen));
    }
    return this.hash.put(mem, kat, klen, mem, vat, vlen);
  }

  putInArray(n, v) {
    const array = this.array;
    if (n > array.length) {
      array.push(v);
      return undefined;
    }
    const old = array[n - 1];
    if (old === undefined) this.arrayHoles--;
    array[n - 1] = v;
    return old;
  }

  /** Removes Map key `k`; returns the value it had, if any. */
  remove(k) {
    if (typeof k === 'number' && k >= 1 && k <= this.array.length) return this.removeFromArray(k);
    return this.hash.remove(encodedKey(k), 0, keyLength(k));
  }

  /** Removes the key encoded at `mem[at..at+len]`; returns the compact value it had, if any. */
  removeAt(mem, at, len) {
    const n = arrayIndex(mem, at, len);
    return n <= this.array.length ? this.removeFromArray(n) : this.hash.remove(mem, at, len);
  }

  removeFromArray(n) {
    const old = this.array[n - 1];
    if (old !== undefined) { this.array[n - 1] = undefined; this.arrayHoles++; }
    return old;
  }

  /**
   * Gives back what deletions left behind: trailing holes of the array part, an array part
   * that is mostly holes (its entries move to the hash part), and deleted hash keys once they
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
    const hash = this.hash;
    if (hash.deleted > MIN_TIDY && hash.deleted * 2 > hash.slotCount) hash.dropDeleted();
  }

  /**
   * The position just after the key encoded at `mem[at..at+len]` in this table's order (array
   * part, then hash part), or -1 when it is not a key of the table (nor a deleted one whose
   * place is still known).
   */
  positionAfterAt(mem, at, len) {
    const n = arrayIndex(mem, at, len);
    if (n <= this.array.length) return n;
    const slot = this.hash.slotOfKey(mem, at, len);
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
    return this.hash.writePage(Math.max(0, position - array.length), mem, at, max, written);
  }

  /** [Map key, compact value] of every entry, in order. */
  *pairs() {
    const array = this.array;
    for (let i = 0; i < array.length; i++) if (array[i] !== undefined) yield [i + 1, array[i]];
    yield* this.hash.pairs();
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

/** Holes or deleted keys below this many are left alone (tidying a small table gains nothing). */
const MIN_TIDY = 32;

/** The array index the key encoded at `mem[at..at+len]` could have (>= 1), else Infinity. */
function arrayIndex(mem, at, len) {
  if (len !== 9 || mem[at] !== INTEGER) return Infinity;
  const n = safeInteger(mem, at);
  return n !== undefined && n >= 1 ? n : Infinity;
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

/**
 * Tables by id. `version` changes whenever a table is added, replaced or dropped, so the
 * imports can keep the table they used last instead of looking it up at every access.
 */
class TablesById extends Map {
  version = 0;
  set(id, t) { this.version++; return super.set(id, t); }
  delete(id) { this.version++; return super.delete(id); }
  clear() { this.version++; super.clear(); }
}

/** The external tables of one module instance, plus change tracking for incremental saves. */
export class ExternalTables {
  #lastId = -1;
  #lastVersion = -1;
  #last = undefined;

  constructor() {
    /** @type {Map<number, Table>} */
    this.tables = new TablesById();
    /** Per table, the Map keys written or deleted since the last `takeChanges()`. */
    this.dirty = new Map();
    /**
     * Tables changed in so many keys since the last `takeChanges()` that recording each costs
     * more than it saves: the next save writes them whole, in place of what the store holds.
     */
    this.rewritten = new Set();
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

  /** Table `id`, or undefined. */
  lookup(id) {
    const tables = this.tables;
    if (id !== this.#lastId || tables.version !== this.#lastVersion) {
      this.#last = tables.get(id);
      this.#lastId = id;
      this.#lastVersion = tables.version;
    }
    return this.#last;
  }

  /** Table `id`, made empty if there is none. */
  table(id) {
    let t = this.lookup(id);
    if (!t) { t = new Table(); this.tables.set(id, t); }
    return t;
  }

  markDirty(id, k) {
    if (!this.trackChanges || this.rewritten.has(id)) return;
    let d = this.dirty.get(id);
    if (!d) { d = new Set(); this.dirty.set(id, d); }
    d.add(k);
    if (d.size >= MIN_KEYS_TO_REWRITE && d.size * 2 > this.size(id)) {
      this.rewritten.add(id);
      this.dirty.delete(id);
    }
  }

  /** Whether Map key `k` of table `id` is recorded as changed since the last `takeChanges()`. */
  isMarked(id, k) { return this.rewritten.has(id) || this.dirty.get(id)?.has(k) === true; }

  /** Forgets that Map key `k` of table `id` changed (an undone run put it back). */
  unmark(id, k) {
    const dirty = this.dirty.get(id);
    dirty?.delete(k);
    if (dirty?.size === 0) this.dirty.delete(id);
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

  /**
   * `putEntry` and `markDirty` for a key and value encoded in `mem`, which makes no string for
   * the key unless a journal or the change record needs one.
   */
  setAt(id, mem, kptr, klen, vptr, vlen) {
    const t = this.table(id);
    const old = t.putAt(mem, kptr, klen, vptr, vlen);
    if (this.journal !== null || (this.trackChanges && !this.rewritten.has(id))) {
      const k = keyString(mem, kptr, klen);
      this.journal?.noteWrite(id, k, old);
      this.markDirty(id, k);
    }
    if (old === undefined) {
      this.bytes += klen;
      if (klen === 5 && mem[kptr] === TABLE_REF) this.countRef(id, u32At(mem, kptr + 1), 1);
      if (this.journal === null) t.tidy();
    } else {
      this.bytes -= valueLength(old);
      if (typeof old !== 'number') this.countValueRefs(id, old, -1);
    }
    this.bytes += vlen;
    const tag = mem[vptr];
    if (tag === TABLE_REF && vlen === 5) this.countRef(id, u32At(mem, vptr + 1), 1);
    else if (tag === FUNCTION) this.countValueRefs(id, mem.subarray(vptr, vptr + vlen), 1);
  }

  // Accounts for value `v` now stored under `k`.
  count(id, k, v) {
    this.bytes += keyLength(k) + valueLength(v);
    this.countRef(id, keyRef(k), 1);
    if (typeof v !== 'number') this.countValueRefs(id, v, 1);
  }

  // Undoes the accounting of value `v` under `k`, which is being replaced or removed.
  forget(id, k, v) {
    this.bytes -= keyLength(k) + valueLength(v);
    this.countRef(id, keyRef(k), -1);
    if (typeof v !== 'number') this.countValueRefs(id, v, -1);
  }

  // Counts (delta 1) or discounts (-1) the tables encoded value `v` (string or bytes) refers to.
  countValueRefs(id, v, delta) {
    for (const ref of valueRefs(v)) this.countRef(id, ref, delta);
    if (delta > 0) for (const cell of cellRefs(v)) this.cells.add(cell);
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
    const old = this.tables.get(id)?.removeAt(key, 0, key.length);
    if (old === undefined) return;
    const k = keyString(key);
    this.journal?.noteWrite(id, k, old);
    this.forget(id, k, old);
    this.markDirty(id, k);
  }

  /** Number of tables that hold at least one entry. */
  get tableCount() { let n = 0; for (const t of this.tables.values()) if (t.size) n++; return n; }

  size(id) { return this.lookup(id)?.size ?? 0; }

  /**
   * What changed since the last call, and forgets it: `keys`, the changed Map keys per table,
   * and `rewritten`, the tables to save whole.
   */
  takeChanges() {
    const changes = { keys: this.dirty, rewritten: this.rewritten };
    this.dirty = new Map();
    this.rewritten = new Set();
    return changes;
  }

  /** Puts changes taken by `takeChanges()` back (a save that failed must retry them). */
  restoreChanges({ keys, rewritten }) {
    for (const id of rewritten) { this.rewritten.add(id); this.dirty.delete(id); }
    for (const [id, ks] of keys) for (const k of ks) this.markDirty(id, k);
  }

  /** Table ids referenced by the keys and values of table `id`. */
  references(id) {
    const counts = this.refs.get(id);
    return counts ? [...counts.keys()] : [];
  }

  /** Drops everything (used before a restore). */
  clear() {
    this.tables.clear(); this.dirty.clear(); this.rewritten.clear(); this.refs.clear(); this.bytes = 0;
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
      this.tables.delete(id); this.refs.delete(id); this.dirty.delete(id); this.rewritten.delete(id);
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
    // A subclass that observes writes through `putEntry` gets an Entry for each.
    const observed = this.putEntry !== ExternalTables.prototype.putEntry;
    return {
      js_ext_table_set: (id, kptr, klen, vptr, vlen) => {
        const mem = bytes();
        if (observed) this.set(id, mem.subarray(kptr, kptr + klen), mem.subarray(vptr, vptr + vlen));
        else this.setAt(id, mem, kptr, klen, vptr, vlen);
        return 0;
      },
      js_ext_table_get: (id, kptr, klen, vptr, max) => {
        const t = this.lookup(id);
        return t ? t.readAt(bytes(), kptr, klen, vptr, max) : -1;
      },
      js_ext_table_delete: (id, kptr, klen) => {
        this.delete(id, bytes().subarray(kptr, kptr + klen));
        return 0;
      },
      js_ext_table_size: (id) => this.size(id),
      js_ext_table_keys: (id, ptr, max) => {
        const t = this.lookup(id);
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
        const t = this.lookup(id);
        const mem = bytes();
        const position = klen === 0 ? 0 : t ? t.positionAfterAt(mem, kptr, klen) : -1;
        if (position < 0) return NOT_A_KEY;
        return t ? t.writePage(mem, position, ptr, max) : 0;
      },
    };
  }
}

/** What `js_ext_table_next` answers when the key to continue after is not in the table. */
const NOT_A_KEY = -2;
