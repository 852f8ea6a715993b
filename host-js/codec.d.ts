import type { LuaResults } from './results.js';
/** A reference to an external table, by id (a result deeper than the engine inlines). */
export class LuaTableRef {
  constructor(id: number);
  id: number;
}

/** A Lua value JS cannot hold (a coroutine, a userdata Lua made): its type name. */
export class LuaOpaque {
  constructor(type: string);
  type: string;
}

/**
 * A Lua value as it reaches JS: nil is null; integers are numbers, or BigInts beyond 2^53;
 * strings that are not UTF-8 are Uint8Arrays; a table is an Array when its keys are exactly
 * 1..n, else a Map (an external table is a LuaTableRef); a JS object given to Lua (a
 * userdata there) is that object again.
 */
export type LuaValue =
  | null | boolean | number | bigint | string | Uint8Array
  | LuaTableRef | LuaOpaque | LuaFunction | LuaValue[] | Map<LuaValue, LuaValue> | object;

/**
 * A Lua function that reached JS: calling it runs it in slices under the engine's limits and
 * resolves to its results as `compute` does. It keeps the function alive until `dispose()`.
 */
export interface LuaFunction {
  (...args: unknown[]): Promise<LuaResults>;
  /** The same call with run options. */
  callWith(options: { signal?: AbortSignal; atomic?: boolean } | null, ...args: unknown[]): Promise<LuaResults>;
  /** Releases the function; later calls reject with LuaReleasedError. */
  dispose(): void;
  [Symbol.dispose](): void;
}
