// External tables in JS: one Map per table id, and the `js_ext_table_*` imports over them.
//
// A table is a Map from the encoded key (as a binary string, so equal encodings are equal
// keys) to `{ key, value }` (both Uint8Array encodings). Iteration order is insertion order.
// Pages for `js_ext_table_next` come from a live Map iterator cached per table and cursor,
// so a full traversal is O(n) however many pages it takes.

const TABLE_REF = 0x07;
const ITERATORS_PER_TABLE = 4;

/** Turns encoded key bytes into a Map key. */
export function keyString(bytes) {
  if (bytes.length <= 64) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return s;
  }
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
  }
  return s;
}

/** The external tables of one module instance, plus change tracking for incremental saves. */
export class ExternalTables {
  constructor() {
    /** @type {Map<number, Map<string, {key: Uint8Array, value: Uint8Array}>>} */
    this.tables = new Map();
    /** Per table, the encoded keys written or deleted since the last `takeChanges()`. */
    this.dirty = new Map();
    this.iterators = new Map();
    /** Encoded bytes held (keys + values), for memory statistics. */
    this.bytes = 0;
  }

  table(id) {
    let t = this.tables.get(id);
    if (!t) { t = new Map(); this.tables.set(id, t); }
    return t;
  }

  markDirty(id, k) {
    let d = this.dirty.get(id);
    if (!d) { d = new Set(); this.dirty.set(id, d); }
    d.add(k);
  }

  set(id, key, value) {
    const k = keyString(key);
    this.put(id, k, key, value);
    this.markDirty(id, k);
  }

  /** Stores an entry without marking it changed (used when loading a saved state). */
  put(id, k, key, value) {
    const t = this.table(id);
    const old = t.get(k);
    if (old) this.bytes -= old.key.length + old.value.length;
    t.set(k, { key, value });
    this.bytes += key.length + value.length;
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
      t.delete(k);
      this.bytes -= old.key.length + old.value.length;
      this.markDirty(id, k);
    }
  }

  /** The entry `{key, value}` stored under Map key `k` of table `id`, if any. */
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

  /** Table ids referenced by the values of table `id`. */
  references(id) {
    const out = [];
    const t = this.tables.get(id);
    if (!t) return out;
    for (const { key, value } of t.values()) {
      if (value[0] === TABLE_REF && value.length === 5) out.push(readU32(value, 1));
      if (key[0] === TABLE_REF && key.length === 5) out.push(readU32(key, 1));
    }
    return out;
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
  clear() { this.tables.clear(); this.dirty.clear(); this.iterators.clear(); this.bytes = 0; }

  /** Empties one table (its removed keys count as changes). */
  clearTable(id) {
    const t = this.tables.get(id);
    if (!t) return;
    for (const [k, { key, value }] of t) { this.bytes -= key.length + value.length; this.markDirty(id, k); }
    t.clear();
    this.iterators.delete(id);
  }

  /**
   * The `js_ext_table_*` imports over these tables. `memory()` returns the module's current
   * `WebAssembly.Memory`; views are re-made on every call because memory growth detaches them.
   */
  imports(memory) {
    const bytes = () => new Uint8Array(memory().buffer);
    const copy = (ptr, len) => bytes().slice(ptr, ptr + len);
    return {
      js_ext_table_set: (id, kptr, klen, vptr, vlen) => {
        this.set(id, copy(kptr, klen), copy(vptr, vlen));
        return 0;
      },
      js_ext_table_get: (id, kptr, klen, vptr, max) => {
        const t = this.tables.get(id);
        if (!t) return -1;
        const entry = t.get(keyString(bytes().subarray(kptr, kptr + klen)));
        if (!entry) return -1;
        const v = entry.value;
        if (v.length <= max) bytes().set(v, vptr);
        return v.length;
      },
      js_ext_table_delete: (id, kptr, klen) => {
        this.delete(id, bytes().subarray(kptr, kptr + klen));
        return 0;
      },
      js_ext_table_size: (id) => this.size(id),
      js_ext_table_keys: (id, ptr, max) => {
        const t = this.tables.get(id);
        let total = 4;
        if (t) for (const { key } of t.values()) total += key.length;
        if (total > max) return total;
        const mem = bytes();
        new DataView(mem.buffer).setUint32(ptr, t ? t.size : 0, true);
        let at = ptr + 4;
        if (t) for (const { key } of t.values()) { mem.set(key, at); at += key.length; }
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
          const need = entry.key.length + entry.value.length;
          if (written + need > max) {
            it.pending = entry;
            if (written === 0) { this.parkIterator(id, it); return need; }
            break;
          }
          mem.set(entry.key, ptr + written);
          mem.set(entry.value, ptr + written + entry.key.length);
          written += need;
          it.pos++;
        }
        this.parkIterator(id, it);
        return written;
      },
    };
  }
}

function readU32(bytes, at) {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}
