import type { LuaValue } from './codec.js';

/**
 * The values a chunk returned, with what it printed. `String(results)` and Node's console
 * show the values as Lua's `print` would.
 */
export class LuaResults extends Array<LuaValue> {
  /** Print output as text. */
  readonly output: string;
  /** Print output as raw bytes. */
  readonly outputBytes: Uint8Array;
}
