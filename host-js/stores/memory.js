// A store that keeps the records in this process's memory: for tests, and as the simplest
// example of the store interface (docs/stores.md).

import { keyString } from '../tables.js';
import { StoreError } from '../errors.js';

/** Records in Maps. Survives engine restarts and resets, not the process. */
export class MemoryStore {
  /** @param {{timeout?: number}} [options] `timeout`: ms the engine waits for a save (0: none) */
  constructor({ timeout = 0 } = {}) {
    this.timeout = timeout;
    this.metadata = null;
    /** Bumped by every save; engines check it to notice another writer. */
    this.generation = 0;
    /** @type {Map<number, Map<string, {key: Uint8Array, value: Uint8Array}>>} */
    this.tables = new Map();
    /** What saves wrote, cumulatively: for tests and curiosity. */
    this.stats = { saves: 0, puts: 0, deletes: 0, bytesWritten: 0 };
  }

  /** @returns {Promise<null | {metadata: object, entries: Iterable<[number, Uint8Array, Uint8Array]>}>} */
  async load() {
    if (!this.metadata) return null;
    const entries = [];
    for (const [id, t] of this.tables) for (const { key, value } of t.values()) entries.push([id, key, value]);
    return { metadata: structuredClone(this.metadata), generation: this.generation, entries };
  }

  /**
   * Applies a batch and resolves to the new generation. Nothing in it can fail half-way, so
   * it is all or nothing.
   */
  async save({ metadata, replace, puts, deletes, dropTables, base = null, overwrite = false }) {
    if (!overwrite && ((base !== null && base !== this.generation) || (!this.metadata && !replace))) {
      throw new StoreError(`the memory store was saved by another engine (generation ${this.generation}, ` +
        `this engine's is ${base ?? 'unknown'}); nothing was written and the engine keeps its changes`, { code: 'stale' });
    }
    if (replace) this.tables = new Map();
    const table = (id) => {
      let t = this.tables.get(id);
      if (!t) { t = new Map(); this.tables.set(id, t); }
      return t;
    };
    for (const id of dropTables) this.tables.delete(id);
    for (const [id, key] of deletes) table(id).delete(keyString(key));
    for (const [id, { key, value }] of puts) {
      table(id).set(keyString(key), { key, value });
      this.stats.bytesWritten += key.length + value.length;
    }
    this.metadata = structuredClone(metadata);
    this.stats.saves++;
    this.stats.puts += puts.length;
    this.stats.deletes += deletes.length;
    return ++this.generation;
  }

  /** Forgets everything. */
  async clear() { this.metadata = null; this.tables = new Map(); this.generation = 0; }
}
