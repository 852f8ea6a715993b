// LuaTable: a Lua table JS reads and writes in place, through the engine's table handles.

import { Handle } from './abi.js';

/** Entries one call of the iteration brings over. */
const PAGE = 256;

/**
 * A Lua table held by JS: a plain table of the engine's state, or an external table. Reads
 * and writes are raw (no metamethods), each a short run of the engine (queued with
 * `compute`, under its limits); values convert as `compute` results and inputs do. Get one
 * from `engine.global.getTable(name)`, `engine.getTable(ref)` or `table.getTable(key)`.
 */
export class LuaTable {
  #call; #open; #dispose;

  /** Made by the engine. `id` is the external table's id, or null for a plain table. */
  constructor(id, { call, open, dispose }) {
    /** The external table's id, or null for a plain table. */
    this.id = id;
    this.#call = call;
    this.#open = open;
    this.#dispose = dispose;
  }

  /** `rawget(t, key)`. */
  async get(key) { return (await this.#call(Handle.TABLE_GET, [key]))[0]; }

  /** `rawset(t, key, value)`; `null` or `undefined` deletes. */
  async set(key, value) { await this.#call(Handle.TABLE_SET, [key, value]); }

  /** `rawlen(t)`: a border, as `#t` gives it. */
  async length() { return (await this.#call(Handle.TABLE_LENGTH, []))[0]; }

  /** The table under `key` as a LuaTable; rejects with LuaError when it is not a table. */
  getTable(key) { return this.#open(key); }

  /**
   * The entries `[key, value]` in `next` order, fetched a page at a time. As with `next`,
   * assigning to existing fields meanwhile is fine, adding new ones is not.
   */
  async *entries() {
    const [next] = await this.#call(Handle.TABLE_ITERATE, []);
    try {
      for (;;) {
        const [page] = await next(PAGE);
        for (let i = 0; i < page.length; i += 2) yield [page[i], page[i + 1]];
        if (page.length < 2 * PAGE) return;
      }
    } finally {
      next.dispose();
    }
  }

  /** The keys, in `next` order. */
  async *keys() {
    for await (const [key] of this.entries()) yield key;
  }

  [Symbol.asyncIterator]() { return this.entries(); }

  /** Lets Lua collect a plain table JS no longer needs; later calls reject with LuaReleasedError. */
  dispose() { this.#dispose(); }

  [Symbol.dispose]() { this.dispose(); }

  toString() { return this.id === null ? 'Lua table' : `external table: ${this.id}`; }
}
