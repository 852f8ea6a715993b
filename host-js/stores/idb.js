// A store in IndexedDB (browsers). Database `LuaPersistentDB`, object store `externalTables`:
// one record per entry, `{id: [tableId, keyBytes], data: valueBytes}`, plus the metadata
// record `{id: '__metadata__', data: {memoryTableId, nextTableId, tableCount, tableIds,
// savedAt, stateRestored, format}}`. A save is one readwrite transaction: all or nothing.

import { StoreError } from '../errors.js';

export const DB_NAME = 'LuaPersistentDB';
export const STORE_NAME = 'externalTables';
export const METADATA_ID = '__metadata__';

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

  /** @param {{name?: string, storeName?: string}} [options] */
  constructor({ name = DB_NAME, storeName = STORE_NAME } = {}) {
    this.name = name;
    this.storeName = storeName;
    /** Cumulative counts of what saves wrote: for tests and curiosity. */
    this.stats = { saves: 0, puts: 0, deletes: 0, bytesWritten: 0 };
  }

  describe() { return `IndexedDB database ${this.name}`; }

  // One connection, re-opened after the browser closes it (idb-keyval's pattern).
  #open() {
    if (!this.#db) {
      const request = indexedDB.open(this.name);
      request.onupgradeneeded = () => request.result.createObjectStore(this.storeName, { keyPath: 'id' });
      this.#db = promisifyRequest(request).then((db) => {
        db.onclose = () => { this.#db = null; };
        db.onversionchange = () => { db.close(); this.#db = null; };
        if (!db.objectStoreNames.contains(this.storeName)) {
          throw new StoreError(`${this.describe()} exists but has no object store ${this.storeName}: it is foreign; left untouched`);
        }
        return db;
      }, (e) => { this.#db = null; throw new StoreError(`cannot open ${this.describe()}: ${e?.message ?? e}`, { cause: e }); });
    }
    return this.#db;
  }

  async #transaction(mode) {
    const db = await this.#open();
    const tx = db.transaction(this.storeName, mode);
    return { tx, store: tx.objectStore(this.storeName) };
  }

  /** @returns {Promise<null | {metadata: object, entries: Array<[number, Uint8Array, Uint8Array]>}>} */
  async load() {
    const { store } = await this.#transaction('readonly');
    const records = await promisifyRequest(store.getAll());
    if (records.length === 0) return null;
    let metadata = null;
    const entries = [];
    for (const r of records) {
      if (r.id === METADATA_ID) { metadata = r.data; continue; }
      if (!Array.isArray(r.id) || r.id.length !== 2 || !(r.id[1] instanceof ArrayBuffer) || !(r.data instanceof Uint8Array)) {
        throw new StoreError(`${this.describe()} holds a record with id ${JSON.stringify(r.id)} that lua-persist did not write ` +
          '(an older or foreign format); it was left untouched');
      }
      entries.push([r.id[0], new Uint8Array(r.id[1]), r.data]);
    }
    return { metadata, entries };
  }

  /** Applies a batch in one transaction. */
  async save({ metadata, replace, puts, deletes, dropTables }) {
    const { tx, store } = await this.#transaction('readwrite');
    const done = promisifyRequest(tx);
    let bytes = 0;
    try {
      if (replace) store.clear();
      for (const id of dropTables) store.delete(IDBKeyRange.bound([id], [id, []]));
      for (const [id, key] of deletes) store.delete([id, exactBuffer(key)]);
      for (const [id, key, value] of puts) {
        store.put({ id: [id, exactBuffer(key)], data: value });
        bytes += key.length + value.length;
      }
      store.put({ id: METADATA_ID, data: metadata });
      // Commit now rather than once the requests come back, which a page being closed may
      // never see: a save started as it goes away can still land. Browsers without commit()
      // still autocommit.
      tx.commit?.();
    } catch (e) {
      tx.abort();
      throw e;
    }
    await done;
    this.stats.saves++;
    this.stats.puts += puts.length;
    this.stats.deletes += deletes.length;
    this.stats.bytesWritten += bytes;
  }

  /** Deletes every record. */
  async clear() {
    const { tx, store } = await this.#transaction('readwrite');
    store.clear();
    await promisifyRequest(tx);
  }

  /** Closes the connection (it re-opens on the next call). */
  close() {
    this.#db?.then((db) => db.close(), () => {});
    this.#db = null;
  }
}

function exactBuffer(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes.buffer : bytes.slice().buffer;
}
