// What a run returns: the decoded values, plus the print output of that run.

import { LuaTableRef, LuaOpaque } from './codec.js';

/**
 * The values a chunk returned (an Array), with `output` (print output as text) and
 * `outputBytes` (the raw bytes). Printed by Node's console and `String()` the way Lua's
 * `print` would show the values, so `console.log('Result:', r)` shows `Result: 123`.
 */
export class LuaResults extends Array {
  // Derived arrays (map, filter, ...) are plain arrays.
  static get [Symbol.species]() { return Array; }

  /** @param {unknown[]} values @param {Uint8Array} outputBytes */
  static of(values, outputBytes = new Uint8Array(0)) {
    const r = new LuaResults();
    r.push(...values);
    Object.defineProperty(r, 'outputBytes', { value: outputBytes, enumerable: false });
    Object.defineProperty(r, 'output', { value: new TextDecoder().decode(outputBytes), enumerable: false });
    return r;
  }

  toString() { return Array.prototype.map.call(this, luaString).join('\t'); }

  [Symbol.for('nodejs.util.inspect.custom')]() { return this.toString(); }
}

/** A decoded value shown as Lua's `tostring` roughly would. */
export function luaString(v) {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v instanceof LuaTableRef) return `table: ext#${v.id}`;
  if (v instanceof LuaOpaque) return v.type;
  if (typeof v === 'function') return 'function';
  if (Array.isArray(v) || v instanceof Map) return 'table';
  return String(v);
}
