// A store in IndexedDB (browsers). Database `LuaPersistentDB`, object store `externalTables`
// (key path `id`), holding the metadata record `{id: '__metadata__', data: Metadata, layout:
// {generation, tables}}` and the entries of each table in buckets `{id: [tableId, bucket],
// keys, values}` (the entries' own compact forms, see `Entry`: structured cloning stores
// them faster than any encoding written in JS could). A key's bucket comes from its hash by linear hashing: a table that grows
// splits one bucket at a time, so a save reads and rewrites only the buckets it touches, and
// no bucket holds much more than BUCKET_ENTRIES entries or BUCKET_BYTES bytes.
//
// A save is one readwrite transaction (all or nothing, also when the page is closed during
// it), taken under a Web Lock so that tabs save one at a time, and announced to the other
// tabs on a BroadcastChannel. The layout of earlier versions (a record `{id: [tableId,
// keyBytes], data: valueBytes}` per entry, no `layout`) still loads; the first save converts it.

import { keyString, Entry } from '../tables.js';
import { StoreError } from '../errors.js';

export const DB_NAME = 'LuaPersistentDB';
export const STORE_NAME = 'externalTables';
export const METADATA_ID = '__metadata__';

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
      this.#channel.onmessage = (e) => this.onchange?.(e.data);
    }
  }

  describe() { return `IndexedDB database ${this.name}`; }

  /** Asks the browser to keep this origin's data under storage pressure; resolves to whether it will. */
  async persist() { return (await navigator.storage?.persist?.()) ?? false; }

  // One connection, re-opened after the browser closes it (idb-keyval's pattern).
  #open() {
    if (!this.#db) {
      const request = indexedDB.open(this.name);
      request.onupgradeneeded = () => request.result.createObjectStore(this.storeName, { keyPath: 'id' });
      this.#db = promisifyRequest(request).then((db) => {
        db.onclose = () => { this.#db = null; };
        db.onversionchange = () => { db.close(); this.#db = null; };
        if (!db.objectStoreNames.contains(this.storeName)) {
          throw new StoreError(`${this.describe()} exists but has no object store ${this.storeName}: it is foreign; left untouched`,
            { code: 'damaged' });
        }
        return db;
      }, (e) => { this.#db = null; throw new StoreError(`cannot open ${this.describe()}: ${e?.message ?? e}`, { cause: e }); });
    }
    return this.#db;
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

  /** @returns {Promise<null | {metadata: object, generation: number, tables: Map<number, Map<number|string, Entry>>}>} */
  load() {
    return this.#locked('shared', async () => {
      const db = await this.#open();
      const records = await promisifyRequest(db.transaction(this.storeName, 'readonly').objectStore(this.storeName).getAll());
      await this.#estimate();
      const meta = records.find((r) => r.id === METADATA_ID);
      if (!meta) {
        if (records.length) throw this.#damaged('entries without a metadata record');
        return null;
      }
      const tables = new Map();
      if (meta.layout) {
        for (const r of records) {
          if (r.id === METADATA_ID) continue;
          const t = tables.get(r.id[0]) ?? new Map();
          tables.set(r.id[0], t);
          this.#readBucket(r, t);
        }
      } else {
        readLegacy(records, tables, (why) => this.#damaged(why));
      }
      return { metadata: meta.data, generation: meta.layout?.generation ?? 0, tables };
    });
  }

  // A bucket record's entries, into `into`.
  #readBucket({ id, keys, values }, into) {
    const ok = Array.isArray(id) && id.length === 2 && Number.isInteger(id[0]) && Number.isInteger(id[1])
      && Array.isArray(keys) && Array.isArray(values) && keys.length === values.length;
    if (!ok) throw this.#damaged(`a record with id ${JSON.stringify(id)} that lua-persist did not write`);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const v = values[i];
      const key = typeof k === 'number' ? Number.isSafeInteger(k) : typeof k === 'string' && k.length > 0;
      if (!key || !(typeof v === 'string' || v instanceof Uint8Array) || v.length === 0) {
        throw this.#damaged(`bucket ${JSON.stringify(id)} holds an entry that is not a key and a value`);
      }
      into.set(k, new Entry(k, v));
    }
  }

  /** Applies a batch in one transaction; resolves to the new generation. */
  save(batch) {
    return this.#locked('exclusive', async () => {
      const db = await this.#open();
      const tx = db.transaction(this.storeName, 'readwrite');
      const done = promisifyRequest(tx);
      let generation;
      try {
        generation = await this.#write(tx.objectStore(this.storeName), batch);
        // Commit now rather than once the requests come back, which a page being closed may
        // never see: a save started as it goes away can still land.
        tx.commit?.();
      } catch (e) {
        try { tx.abort(); } catch { /* already finished */ }
        done.catch(() => {});
        throw this.#failure(e);
      }
      try { await done; } catch (e) { throw this.#failure(e); }
      this.stats.saves++;
      this.#channel?.postMessage({ generation });
      await this.#estimate();
      return generation;
    });
  }

  #failure(e) {
    if (e instanceof StoreError) return e;
    if (e?.name === 'QuotaExceededError') {
      return new StoreError(`${this.describe()}: the browser's storage quota is full (QuotaExceededError); nothing was ` +
        'written and the engine keeps its changes for the next save', { code: 'quota', cause: e });
    }
    return new StoreError(`saving to ${this.describe()} failed: ${e?.message ?? e}`, { cause: e });
  }

  // Everything a save does inside its transaction; resolves to the new generation.
  async #write(store, { metadata, replace, puts, deletes, dropTables, base = null, overwrite = false }) {
    const meta = await promisifyRequest(store.get(METADATA_ID));
    if (!overwrite) {
      if (!meta && (await promisifyRequest(store.count())) > 0) throw this.#damaged('entries without a metadata record');
      const current = meta?.layout?.generation ?? 0;
      if ((base !== null && base !== current) || (!meta && !replace)) {
        throw new StoreError(`${this.describe()} was saved by another tab or engine since this engine last loaded or saved it ` +
          `(generation ${current}, this engine's is ${base ?? 'unknown'}); nothing was written and the engine keeps its ` +
          'changes: load() to take that state, or save({overwrite: true}) to replace it', { code: 'stale' });
      }
    }
    const generation = (meta?.layout?.generation ?? 0) + 1;
    let layout;
    if (replace || overwrite || !meta) {
      store.clear();
      layout = new Map();
      this.#writeTables(store, layout, groupPuts(puts));
    } else if (!meta.layout) {
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
      store.clear();
      layout = new Map();
      this.#writeTables(store, layout, new Map([...tables].map(([id, t]) => [id, [...t.values()]])));
    } else {
      layout = meta.layout.tables;
      for (const id of dropTables) {
        store.delete(IDBKeyRange.bound([id], [id, []]));
        layout.delete(id);
      }
      await this.#update(store, layout, deletes, puts);
    }
    store.put({ id: METADATA_ID, data: metadata, layout: { generation, tables: layout } });
    this.stats.puts += puts.length;
    this.stats.deletes += deletes.length;
    return generation;
  }

  // Writes whole tables (new ones, or all after a replace) into fresh buckets.
  #writeTables(store, layout, tables) {
    for (const [id, entries] of tables) {
      let bytes = 0;
      for (const e of entries) bytes += e.keyLength + e.valueLength;
      let level = 0;
      while (entries.length > BUCKET_ENTRIES << level || bytes > BUCKET_BYTES * 2 ** level) level++;
      const buckets = Array.from({ length: 2 ** level }, () => []);
      const mod = 2 ** level;
      for (const e of entries) buckets[hashKey(e.k) % mod].push(e);
      buckets.forEach((b, i) => this.#putBucket(store, id, i, b));
      layout.set(id, { level, split: 0, count: entries.length, bytes });
    }
  }

  // Applies deletes and puts to the buckets they fall in, splitting buckets as tables grow.
  async #update(store, layout, deletes, puts) {
    const changes = new Map();
    const change = (id) => { let c = changes.get(id); if (!c) { c = new Map(); changes.set(id, c); } return c; };
    for (const [id, key] of deletes) change(id).set(keyString(key), null);
    for (const [id, entry] of puts) change(id).set(entry.k, entry);
    const fresh = new Map();
    await Promise.all([...changes].map(async ([id, byKey]) => {
      const t = layout.get(id);
      if (!t) {
        const entries = [...byKey.values()].filter(Boolean);
        if (entries.length) fresh.set(id, entries);
        return;
      }
      const loaded = new Map();
      const bucket = (i) => {
        if (!loaded.has(i)) {
          loaded.set(i, promisifyRequest(store.get([id, i])).then((r) => {
            const m = new Map();
            if (r) this.#readBucket(r, m);
            return m;
          }));
        }
        return loaded.get(i);
      };
      const byBucket = new Map();
      for (const [k, e] of byKey) {
        const i = bucketOf(hashKey(k), t);
        if (!byBucket.has(i)) byBucket.set(i, []);
        byBucket.get(i).push([k, e]);
      }
      const touched = new Set(byBucket.keys());
      await Promise.all([...byBucket].map(async ([i, list]) => {
        const m = await bucket(i);
        for (const [k, e] of list) {
          const old = m.get(k);
          if (old) { m.delete(k); t.count--; t.bytes -= old.keyLength + old.valueLength; }
          if (e) { m.set(k, e); t.count++; t.bytes += e.keyLength + e.valueLength; }
        }
      }));
      while (t.count > BUCKET_ENTRIES * (2 ** t.level + t.split) || t.bytes > BUCKET_BYTES * (2 ** t.level + t.split)) {
        const from = await bucket(t.split);
        const to = new Map();
        const mod = 2 ** (t.level + 1);
        for (const [k, e] of from) if (hashKey(k) % mod !== t.split) { from.delete(k); to.set(k, e); }
        const added = t.split + 2 ** t.level;
        loaded.set(added, Promise.resolve(to));
        touched.add(t.split).add(added);
        if (++t.split === 2 ** t.level) { t.level++; t.split = 0; }
      }
      for (const i of touched) this.#putBucket(store, id, i, [...(await loaded.get(i)).values()]);
    }));
    this.#writeTables(store, layout, fresh);
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
  }

  /** Deletes every record. */
  clear() {
    return this.#locked('exclusive', async () => {
      const db = await this.#open();
      const tx = db.transaction(this.storeName, 'readwrite');
      tx.objectStore(this.storeName).clear();
      await promisifyRequest(tx);
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
