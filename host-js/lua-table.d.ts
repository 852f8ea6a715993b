import type { LuaValue } from './codec.js';

/**
 * A Lua table held by JS: a plain table of the engine's state, or an external table. Reads
 * and writes are raw (no metamethods), each a short run of the engine under its limits;
 * values convert as `compute` results and inputs do. Get one from
 * `engine.global.getTable(name)`, `engine.getTable(ref)` or `table.getTable(key)`; passed
 * to Lua it is the table itself.
 */
export class LuaTable implements AsyncIterable<[LuaValue, LuaValue]> {
  /** Made by the engine. */
  private constructor();
  /** The external table's id, or null for a plain table. */
  readonly id: number | null;
  /** `rawget(t, key)`. */
  get(key: unknown): Promise<LuaValue>;
  /** `rawset(t, key, value)`; null or undefined deletes. */
  set(key: unknown, value: unknown): Promise<void>;
  /** `rawlen(t)`: a border, as `#t` gives it. */
  length(): Promise<number>;
  /** The table under `key`; rejects with LuaError when it is not a table. */
  getTable(key: unknown): Promise<LuaTable>;
  /** The entries in `next` order, a page at a time (assign to existing fields only meanwhile). */
  entries(): AsyncGenerator<[LuaValue, LuaValue], void, undefined>;
  /** The keys in `next` order. */
  keys(): AsyncGenerator<LuaValue, void, undefined>;
  [Symbol.asyncIterator](): AsyncGenerator<[LuaValue, LuaValue], void, undefined>;
  /** Lets Lua collect a plain table; later calls reject with LuaReleasedError. */
  dispose(): void;
  [Symbol.dispose](): void;
}
