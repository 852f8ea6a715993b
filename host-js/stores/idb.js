// A store in IndexedDB (browsers). Database `LuaPersistentDB`, object store `externalTables`
// (key path `id`), holding the metadata record `{id: '__metadata__', data: Metadata, layout:
// {generation, tables}}`, the generation record `{id: ['__generation__', generation], slot}`
// and the entries of each table in buckets `{id: [tableId, bucket], keys, values}` (the
// entries' own compact forms, see `Entry`: structured cloning stores them faster than any
// encoding written in JS could). A key's bucket comes from its hash by linear hashing: a
// table that grows splits one bucket at a time, so a save rewrites only the buckets it
// touches, and no bucket holds much more than BUCKET_ENTRIES entries or BUCKET_BYTES bytes.
//
// A save is one readwrite transaction (all or nothing, also when the page is closed during
// it), taken under a Web Lock so that tabs save one at a time, and announced to the other
// tabs on a BroadcastChannel. The store remembers which entries each bucket held after its
// last load or save, so a save only writes; a save as the page goes away (`leaving`) issues
// every request at once, without the lock, and the generation record alone refuses it when
// another writer came first (docs/stores.md). The layout of earlier versions (a record `{id:
// [tableId, keyBytes], data: valueBytes}` per entry, no `layout`) still loads; the first save
// converts it.

import { keyString, Entry } from '../tables.js';
import { StoreError } from '../errors.js';

export const DB_NAME = 'LuaPersistentDB';
export const STORE_NAME = 'externalTables';
export const METADATA_ID = '__metadata__';
// The generation record's key is `[GENERATION, generation]`; its field `slot` is in a unique
// index, so the store holds one at most.
const GENERATION = '__generation__';
const SLOT_INDEX = 'slot';

const BUCKET_ENTRIES = 1024;
const BUCKET_BYTES = 64 * 1024;

/** Resolves with a request's result (or a transaction's completion), as idb-keyval does. */
export function promisifyRequest(request) {
  return new Promise((resolve, reject) => {
    request.oncomplete = request.onsuccess = () => resolve(request.result);
    request.onabort = request.onerror = () => reject(request.error);
  });
}

/** Keeps the state in IndexedDB. Several engines may use different database names. */
export class IdbStore {
  #db = null;
  #channel = null;
  // What the last load or save left in the database: `{generation, guarded, layout, buckets}`,
  // `layout` as in the metadata record, `buckets` each table's bucket records' `{keys,
  // values}`, `guarded` whether the generation record holds `generation`. Null when unknown: before a
  // load, after another writer saved, for the layout of earlier versions.
  #saved = null;

  /**
   * @param {{name?: string, storeName?: string, timeout?: number,
   *   onchange?: (event: {generation: number}) => void}} [options] `timeout`: ms the engine
   *   waits for a load or save (default 60 s; 0: none); `onchange`: called when another tab
   *   or engine saved this database
   */
  constructor({ name = DB_NAME, storeName = STORE_NAME, timeout = 60_000, onchange = null } = {}) {
    this.name = name;
    this.storeName = storeName;
    this.timeout = timeout;
    /** Called with `{generation}` when another tab or engine saved this database. */
    this.onchange = onchange;
    /** `navigator.storage.estimate()` as of the last load or save: `{usage, quota}`, or null. */
    this.storage = null;
    /** Cumulative counts of what saves wrote: for tests and curiosity. */
    this.stats = { saves: 0, puts: 0, deletes: 0, bytesWritten: 0, records: 0 };
    if (typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(`lua-persist:${name}`);
      this.#channel.onmessage = (e) => {
        this.#saved = null;
        this.onchange?.(e.data);
      };
    }
  }

  describe() { return `IndexedDB database ${this.name}`; }

  /** Asks the browser to keep this origin's data under storage pressure; resolves to whether it will. */
  async persist() { return (await navigator.storage?.persist?.()) ?? false; }

  // One connection, re-opened after the browser closes it (idb-keyval's pattern).
  #open() {
    if (!this.#db) {
      this.#db = this.#connect().then((db) => {
        db.onclose = () => { this.#db = null; };
        db.onversionchange = () => { db.close(); this.#db = null; };
        return db;
      }, (e) => {
        this.#db = null;
        throw e instanceof StoreError ? e : new StoreError(`cannot open ${this.describe()}: ${e?.message ?? e}`, { cause: e });
      });
    }
    return this.#db;
  }

  // A new database gets the object store and its index; one written before the index existed
  // gets the index in a version upgrade.
  async #connect() {
    const open = (version) => {
      const request = indexedDB.open(this.name, version);
      request.onupgradeneeded = (e) => {
        const store = e.oldVersion === 0
          ? request.result.createObjectStore(this.storeName, { keyPath: 'id' })
          : request.transaction.objectStore(this.storeName);
        if (!store.indexNames.contains(SLOT_INDEX)) store.createIndex(SLOT_INDEX, 'slot', { unique: true });
      };
      return promisifyRequest(request);
    };
    const db = await open();
    if (!db.objectStoreNames.contains(this.storeName)) {
      db.close();
      throw new StoreError(`${this.describe()} exists but has no object store ${this.storeName}: it is foreign; left untouched`,
        { code: 'damaged' });
    }
    if (db.transaction(this.storeName).objectStore(this.storeName).indexNames.contains(SLOT_INDEX)) return db;
    db.close();
    return open(db.version + 1);
  }

  // Tabs (and engines) on one database save one at a time; loads share the lock.
  #locked(mode, fn) {
    if (typeof navigator === 'undefined' || !navigator.locks) return fn();
    return navigator.locks.request(`lua-persist:${this.name}`, { mode }, fn);
  }

  async #estimate() {
    try {
      const { usage, quota } = await navigator.storage.estimate();
      this.storage = { usage, quota };
    } catch { /* no StorageManager here */ }
  }

  #damaged(why) {
    return new StoreError(`the saved state in ${this.describe()} is damaged or foreign (${why}); it was left untouched: ` +
      'load another state, or save with {overwrite: true} to replace it', { code: 'damaged' });
  }

  #stale(current, base) {
    const generations = current === null ? `this engine's generation is ${base}` : `generation ${current}, this engine's is ${base ?? 'unknown'}`;
    return new StoreError(`${this.describe()} was saved by another tab or engine since this engine last loaded or saved it ` +
      `(${generations}); nothing was written and the engine keeps its changes: load() to take that state, or ` +
      'save({overwrite: true}) to replace it', { code: 'stale' });
  }

  /** @returns {Promise<null | {metadata: object, generation: number, tables: Map<number, Map<number|string, Entry>>}>} */
  load() {
    return this.#locked('shared', async () => {
      const db = await this.#open();
      const records = await promisifyRequest(db.transaction(this.storeName, 'readonly').objectStore(this.storeName).getAll());
      await this.#estimate();
      const meta = records.find((r) => r.id === METADATA_ID);
      if (!meta) {
        if (records.length) throw this.#damaged('entries without a metadata record');
        this.#saved = { generation: 0, guarded: true, layout: new Map(), buckets: new Map() };
        return null;
      }
      const tables = new Map();
      if (meta.layout) {
        this.#saved = this.#readBuckets(records, meta, tables);
      } else {
        this.#saved = null;
        readLegacy(records, tables, (why) => this.#damaged(why));
      }
      return { metadata: meta.data, generation: meta.layout?.generation ?? 0, tables };
    });
  }

  // The records of the bucket layout: their entries into `tables`, and what the store keeps
  // of them (see #saved).
  #readBuckets(records, meta, tables) {
    const { generation, tables: layout } = meta.layout;
    const buckets = new Map();
    let stamp = null;
    for (const r of records) {
      if (r.id === METADATA_ID) continue;
      if (Array.isArray(r.id) && r.id[0] === GENERATION) { stamp = r.id[1]; continue; }
      const ok = Array.isArray(r.id) && r.id.length === 2 && Number.isInteger(r.id[0]) && Number.isInteger(r.id[1]) && r.id[1] >= 0;
      if (!ok) throw this.#damaged(`a record with id ${JSON.stringify(r.id)} that lua-persist did not write`);
      const [id, i] = r.id;
      const t = tables.get(id) ?? new Map();
      tables.set(id, t);
      const list = buckets.get(id) ?? [];
      buckets.set(id, list);
      list[i] = this.#readBucket(r, t);
    }
    return { generation, guarded: stamp === generation, layout, buckets };
  }

  // A bucket record's entries, into `into`; returns its `{keys, values}`.
  #readBucket({ id, keys, values }, into) {
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) {
      throw this.#damaged(`a record with id ${JSON.stringify(id)} that lua-persist did not write`);
    }
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = values[i];
      const key = typeof k === 'number' ? Number.isSafeInteger(k) : typeof k === 'string' && k.length > 0;
      if (!key || !(typeof v === 'string' || v instanceof Uint8Array) || v.length === 0) {
        throw this.#damaged(`bucket ${JSON.stringify(id)} holds an entry that is not a key and a value`);
      }
      into.set(k, new Entry(k, v));
    }
    return { keys, values };
  }

  /**
   * Applies a batch in one transaction; resolves to the new generation. A `leaving` batch
   * (the page is going away) is written without waiting for the lock when this store knows
   * the buckets of the engine's generation: every request is issued before the event loop
   * turns, and the generation record refuses the transaction if another writer came first.
   */
  save(batch) {
    const saved = this.#saved;
    if (batch.leaving && !batch.overwrite && saved?.guarded && saved.generation === batch.base) {
      return this.#transact(batch, { generation: batch.base, saved, full: batch.replace ? groupPuts(batch.puts) : null });
    }
    return this.#locked('exclusive', () => this.#transact(batch, null));
  }

  // One save's transaction over `plan` (see #plan). Without one it reads the metadata record
  // first and refuses a damaged or newer state with its reason; with one, taken before any
  // await, the generation record is the only check.
  async #transact(batch, plan) {
    const db = await this.#open();
    const tx = db.transaction(this.storeName, 'readwrite');
    const done = promisifyRequest(tx);
    let written;
    try {
      const store = tx.objectStore(this.storeName);
      written = this.#write(store, batch, plan ?? await this.#plan(store, batch));
      // Commit now rather than once the requests come back, which a page being closed may
      // never see: a save started as it goes away can still land.
      tx.commit?.();
    } catch (e) {
      try { tx.abort(); } catch { /* already finished */ }
      done.catch(() => {});
      throw this.#failure(e);
    }
    try { await done; } catch (e) { throw written.refused ? this.#stale(null, batch.base) : this.#failure(e); }
    this.#saved = written.saved;
    this.stats.saves++;
    this.#channel?.postMessage({ generation: written.saved.generation });
    await this.#estimate();
    return written.saved.generation;
  }

  #failure(e) {
    if (e instanceof StoreError) return e;
    if (e?.name === 'QuotaExceededError') {
      return new StoreError(`${this.describe()}: the browser's storage quota is full (QuotaExceededError); nothing was ` +
        'written and the engine keeps its changes for the next save', { code: 'quota', cause: e });
    }
    return new StoreError(`saving to ${this.describe()} failed: ${e?.message ?? e}`, { cause: e });
  }

  // What a checked save writes over, read in its transaction: `{generation, saved}` for an
  // incremental save, `{generation, full}` (every table's entries) for one that rewrites all.
  async #plan(store, { replace, puts, deletes, dropTables, base, overwrite }) {
    const meta = await promisifyRequest(store.get(METADATA_ID));
    const generation = meta?.layout?.generation ?? 0;
    if (!overwrite) {
      if (!meta && (await promisifyRequest(store.count())) > 0) throw this.#damaged('entries without a metadata record');
      if ((base !== null && base !== generation) || (!meta && !replace)) throw this.#stale(generation, base);
    }
    if (replace || overwrite || !meta) return { generation, full: groupPuts(puts) };
    if (!meta.layout) {
      // The layout of earlier versions: read it whole, apply the batch, write buckets.
      const tables = new Map();
      readLegacy(await promisifyRequest(store.getAll()), tables, (why) => this.#damaged(why));
      for (const id of dropTables) tables.delete(id);
      for (const [id, key] of deletes) tables.get(id)?.delete(keyString(key));
      for (const [id, entry] of puts) {
        const t = tables.get(id) ?? new Map();
        tables.set(id, t);
        t.set(entry.k, entry);
      }
      return { generation, full: new Map([...tables].map(([id, t]) => [id, [...t.values()]])) };
    }
    if (this.#saved?.generation === generation) return { generation, saved: this.#saved };
    // Another writer's state: learn its buckets.
    return { generation, saved: this.#readBuckets(await promisifyRequest(store.getAll()), meta, new Map()) };
  }

  // Issues every request of a save over `plan` (see #plan); returns what the database will
  // hold once it commits, and whether the generation record refused it.
  #write(store, { metadata, puts, deletes, dropTables }, { generation, saved, full }) {
    const next = generation + 1;
    const out = { generation: next, guarded: true, layout: new Map(saved?.layout), buckets: new Map(saved?.buckets) };
    const written = { saved: out, refused: false };
    // The unique index admits one generation record. Deleting the one this save derives from
    // and adding the next fails, aborting the transaction, if another writer's is there.
    store.delete(saved?.guarded ? [GENERATION, generation] : generationRange());
    const record = { id: [GENERATION, next], slot: GENERATION };
    store.add(record).onerror = () => { written.refused = true; };
    if (full) {
      store.clear();
      store.put(record);
      out.layout.clear();
      out.buckets.clear();
      this.#writeTables(store, out, full);
    } else {
      for (const id of dropTables) {
        store.delete(IDBKeyRange.bound([id], [id, []]));
        out.layout.delete(id);
        out.buckets.delete(id);
      }
      this.#update(store, out, deletes, puts);
    }
    store.put({ id: METADATA_ID, data: metadata, layout: { generation: next, tables: out.layout } });
    this.stats.puts += puts.length;
    this.stats.deletes += deletes.length;
    return written;
  }

  // Writes whole tables (new ones, or all after a replace) into fresh buckets.
  #writeTables(store, { layout, buckets }, tables) {
    for (const [id, entries] of tables) {
      let bytes = 0;
      for (const e of entries) bytes += e.keyLength + e.valueLength;
      let level = 0;
      while (entries.length > BUCKET_ENTRIES << level || bytes > BUCKET_BYTES * 2 ** level) level++;
      const mod = 2 ** level;
      const lists = Array.from({ length: mod }, () => []);
      for (const e of entries) lists[hashKey(e.k) % mod].push(e);
      layout.set(id, { level, split: 0, count: entries.length, bytes });
      buckets.set(id, lists.map((b, i) => this.#putBucket(store, id, i, b)));
    }
  }

  // Applies deletes and puts to the buckets they fall in, splitting buckets as tables grow.
  // `out` holds copies of the store's record (#saved) whose tables are replaced here, never
  // changed in place: the record stays as it was if the transaction fails.
  #update(store, out, deletes, puts) {
    const changes = new Map();
    const change = (id) => { let c = changes.get(id); if (!c) { c = new Map(); changes.set(id, c); } return c; };
    for (const [id, key] of deletes) change(id).set(keyString(key), null);
    for (const [id, entry] of puts) change(id).set(entry.k, entry);
    const fresh = new Map();
    for (const [id, byKey] of changes) {
      const shape = out.layout.get(id);
      if (!shape) {
        const entries = [...byKey.values()].filter(Boolean);
        if (entries.length) fresh.set(id, entries);
        continue;
      }
      const t = { ...shape };
      out.layout.set(id, t);
      const lists = (out.buckets.get(id) ?? []).slice();
      out.buckets.set(id, lists);
      // The buckets this save rewrites, from key to entry.
      const touched = new Map();
      const bucket = (i) => {
        let m = touched.get(i);
        if (!m) {
          m = new Map();
          const { keys, values } = lists[i] ?? { keys: [], values: [] };
          for (let j = 0; j < keys.length; j++) m.set(keys[j], new Entry(keys[j], values[j]));
          touched.set(i, m);
        }
        return m;
      };
      for (const [k, e] of byKey) {
        const m = bucket(bucketOf(hashKey(k), t));
        const old = m.get(k);
        if (old) { m.delete(k); t.count--; t.bytes -= old.keyLength + old.valueLength; }
        if (e) { m.set(k, e); t.count++; t.bytes += e.keyLength + e.valueLength; }
      }
      while (t.count > BUCKET_ENTRIES * (2 ** t.level + t.split) || t.bytes > BUCKET_BYTES * (2 ** t.level + t.split)) {
        const from = bucket(t.split);
        const to = new Map();
        const mod = 2 ** (t.level + 1);
        for (const [k, e] of from) if (hashKey(k) % mod !== t.split) { from.delete(k); to.set(k, e); }
        touched.set(t.split + 2 ** t.level, to);
        if (++t.split === 2 ** t.level) { t.level++; t.split = 0; }
      }
      for (const [i, m] of touched) lists[i] = this.#putBucket(store, id, i, [...m.values()]);
    }
    this.#writeTables(store, out, fresh);
  }

  #putBucket(store, id, i, entries) {
    const keys = new Array(entries.length);
    const values = new Array(entries.length);
    for (let j = 0; j < entries.length; j++) {
      const e = entries[j];
      keys[j] = e.k;
      values[j] = e.storedValue;
      this.stats.bytesWritten += e.keyLength + e.valueLength;
    }
    store.put({ id: [id, i], keys, values });
    this.stats.records++;
    return { keys, values };
  }

  /** Deletes every record. */
  clear() {
    return this.#locked('exclusive', async () => {
      const db = await this.#open();
      const tx = db.transaction(this.storeName, 'readwrite');
      tx.objectStore(this.storeName).clear();
      await promisifyRequest(tx);
      this.#saved = { generation: 0, guarded: true, layout: new Map(), buckets: new Map() };
      this.#channel?.postMessage({ generation: 0 });
    });
  }

  /** Closes the connection (it re-opens on the next call) and stops listening to other tabs. */
  close() {
    this.#db?.then((db) => db.close(), () => {});
    this.#db = null;
    this.#channel?.close();
    this.#channel = null;
  }
}

function generationRange() { return IDBKeyRange.bound([GENERATION], [GENERATION, []]); }

function groupPuts(puts) {
  const tables = new Map();
  for (const [id, entry] of puts) {
    let list = tables.get(id);
    if (!list) { list = []; tables.set(id, list); }
    list.push(entry);
  }
  return tables;
}

// The records of the one-record-per-entry layout, into `tables`.
function readLegacy(records, tables, damaged) {
  for (const r of records) {
    if (r.id === METADATA_ID) continue;
    if (!Array.isArray(r.id) || r.id.length !== 2 || !(r.id[1] instanceof ArrayBuffer) || !(r.data instanceof Uint8Array)) {
      throw damaged(`a record with id ${JSON.stringify(r.id)} that lua-persist did not write`);
    }
    const key = new Uint8Array(r.id[1]);
    const k = keyString(key);
    let t = tables.get(r.id[0]);
    if (!t) { t = new Map(); tables.set(r.id[0], t); }
    t.set(k, Entry.of(k, r.data));
  }
}

/** The bucket of hash `h` in a table with linear-hashing state `{level, split}`. */
function bucketOf(h, { level, split }) {
  const i = h % 2 ** level;
  return i < split ? h % 2 ** (level + 1) : i;
}

/** A 32-bit hash of a Map key (see `keyString`): integers and byte strings. */
function hashKey(k) {
  let h;
  if (typeof k === 'number') {
    h = Math.imul((k | 0) ^ Math.imul(Math.floor(k / 4294967296) | 0, 0x27d4eb2f), 0x9e3779b1);
  } else {
    h = 0x811c9dc5;
    for (let i = 0; i < k.length; i++) h = Math.imul(h ^ k.charCodeAt(i), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
