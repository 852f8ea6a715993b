// External tables in JS: one Map per table id, and the `js_ext_table_*` imports over them.
//
// A table is a Map from a Map key (see `keyString`) to `{ key, value }` (both Uint8Array
// encodings). Iteration order is insertion order. Pages for `js_ext_table_next` come from a
// live Map iterator cached per table and cursor, so a full traversal is O(n) however many
// pages it takes. References between tables (tag 07) are counted as they are written, so
// finding what `_home` reaches never scans every entry.

const INTEGER = 0x02;
const FUNCTION = 0x05;
const TABLE_REF = 0x07;
/** What follows the id list of a function payload in the current format: "\x1bLPF". */
const FUNCTION_MARKER = [0x1b, 0x4c, 0x50, 0x46];
/** Fewest new cells that make a collection of cells worth a pass over every table. */
const MIN_CELLS_TO_COLLECT = 1024;
const ITERATORS_PER_TABLE = 4;
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
 * One entry of a table. `key` and `value` are Uint8Array encodings made on demand; the entry
 * itself keeps the Map key and a compact value (see `compactValue`).
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
  get keyLength() { return typeof this.k === 'number' ? 9 : this.k.length; }
  get valueLength() { return typeof this.v === 'number' ? 9 : this.v.length; }
  writeKey(mem, at) { writeKey(mem, at, this.k); }
  writeValue(mem, at) {
    const v = this.v;
    if (typeof v === 'number') writeInteger(mem, at, v);
    else if (typeof v === 'string') writeBinary(mem, at, v);
    else mem.set(v, at);
  }
  /** The table id a key refers to (tag 07), or -1. */
  keyRef() { return typeof this.k === 'string' ? binaryRef(this.k) : -1; }
  /** The table ids a value refers to: a reference (07), or the tables a stored function reaches (05). */
  valueRefs() { return typeof this.v === 'number' ? NO_REFS : valueRefs(this.v); }
  /** The upvalue cells a stored function refers to; none for any other value. */
  cellRefs() { return typeof this.v === 'number' ? NO_REFS : cellRefs(this.v); }
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
    /** @type {Map<number, Map<number|string, Entry>>} */
    this.tables = new Map();
    /** Per table, the encoded keys written or deleted since the last `takeChanges()`. */
    this.dirty = new Map();
    this.iterators = new Map();
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
    if (!t) { t = new Map(); this.tables.set(id, t); }
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
    this.put(id, k, key, value);
    this.markDirty(id, k);
  }

  /**
   * Stores an entry without marking it changed (used when loading a saved state). `k` is
   * `keyString(key)`; `value` is the encoded value.
   */
  put(id, k, key, value) { this.putEntry(id, Entry.of(k, value)); }

  /**
   * Takes `map` (Map key -> Entry) as table `id`'s contents, replacing them (a restore).
   * `account` is what `readSnapshot` counted: the bytes `map` holds and, per table it refers
   * to, how many references.
   */
  adopt(id, map, account) {
    this.clearTable(id);
    this.tables.set(id, map);
    this.bytes += account.bytes;
    this.refs.set(id, account.refs);
  }

  putEntry(id, entry) {
    const t = this.table(id);
    const old = t.get(entry.k);
    this.journal?.noteWrite(id, entry.k, old);
    if (old) this.forget(id, old);
    t.set(entry.k, entry);
    this.bytes += entry.keyLength + entry.valueLength;
    this.countRef(id, entry.keyRef(), 1);
    for (const ref of entry.valueRefs()) this.countRef(id, ref, 1);
    for (const cell of entry.cellRefs()) this.cells.add(cell);
  }

  // Undoes the accounting of an entry that is being replaced or removed.
  forget(id, entry) {
    this.bytes -= entry.keyLength + entry.valueLength;
    this.countRef(id, entry.keyRef(), -1);
    for (const ref of entry.valueRefs()) this.countRef(id, ref, -1);
  }

  countRef(id, ref, delta) {
    if (ref < 0) return;
    let counts = this.refs.get(id);
    if (!counts) { counts = new Map(); this.refs.set(id, counts); }
    const n = (counts.get(ref) ?? 0) + delta;
    if (n > 0) counts.set(ref, n); else counts.delete(ref);
  }

  get(id, key) {
    const t = this.tables.get(id);
    return t ? t.get(keyString(key))?.value : undefined;
  }

  delete(id, key) {
    const t = this.tables.get(id);
    const k = keyString(key);
    const old = t?.get(k);
    if (old) {
      this.journal?.noteDelete(id, t, k, old);
      t.delete(k);
      this.forget(id, old);
      this.markDirty(id, k);
    }
  }

  /** The entry stored under Map key `k` of table `id`, if any. */
  entry(id, k) { return this.tables.get(id)?.get(k); }

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

  /** An iterator positioned at entry `cursor` of table `id`'s order, reusing a cached one. */
  iteratorAt(id, cursor) {
    const cached = this.iterators.get(id);
    const hit = cached?.find((it) => it.pos === cursor);
    if (hit) { cached.splice(cached.indexOf(hit), 1); return hit; }
    const it = { pos: 0, iter: this.table(id).values(), pending: null };
    while (it.pos < cursor) {
      if (it.iter.next().done) break;
      it.pos++;
    }
    it.pos = cursor;
    return it;
  }

  parkIterator(id, it) {
    let cached = this.iterators.get(id);
    if (!cached) { cached = []; this.iterators.set(id, cached); }
    cached.push(it);
    if (cached.length > ITERATORS_PER_TABLE) cached.shift();
  }

  /** Drops everything (used before a restore). */
  clear() {
    this.tables.clear(); this.dirty.clear(); this.iterators.clear(); this.refs.clear(); this.bytes = 0;
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
    for (const [k, entry] of t) { this.forget(id, entry); this.markDirty(id, k); }
    t.clear();
    this.iterators.delete(id);
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
        const entry = t.get(keyString(mem, kptr, klen));
        if (!entry) return -1;
        const n = entry.valueLength;
        if (n <= max) entry.writeValue(mem, vptr);
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
        if (t) for (const e of t.values()) total += e.keyLength;
        if (total > max) return total;
        const mem = bytes();
        new DataView(mem.buffer).setUint32(ptr, t ? t.size : 0, true);
        let at = ptr + 4;
        if (t) for (const e of t.values()) { e.writeKey(mem, at); at += e.keyLength; }
        return total;
      },
      js_ext_table_next: (id, cursor, ptr, max) => {
        if (!this.tables.has(id)) return 0;
        const it = this.iteratorAt(id, cursor);
        const mem = bytes();
        let written = 0;
        for (;;) {
          const entry = it.pending ?? it.iter.next().value;
          it.pending = null;
          if (!entry) break;
          const need = entry.keyLength + entry.valueLength;
          if (written + need > max) {
            it.pending = entry;
            if (written === 0) { this.parkIterator(id, it); return need; }
            break;
          }
          entry.writeKey(mem, ptr + written);
          entry.writeValue(mem, ptr + written + entry.keyLength);
          written += need;
          it.pos++;
        }
        this.parkIterator(id, it);
        return written;
      },
    };
  }
}
