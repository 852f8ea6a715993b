// JS values written as Lua source, for chunks the host builds (`registerModule`).

const utf8 = new TextEncoder();

/** A Lua string literal holding exactly `value`'s bytes (a string is UTF-8). */
export function luaString(value) {
  const bytes = typeof value === 'string' ? utf8.encode(value) : value;
  let out = '"';
  for (const b of bytes) {
    // Three digits always, so a digit after an escape cannot join it.
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\${String(b).padStart(3, '0')}`;
  }
  return `${out}"`;
}

/**
 * A Lua expression for a JS value: numbers (integral ones as integers, BigInt too), strings
 * and bytes, booleans, null and undefined (nil), arrays and plain objects (tables, copied).
 */
export function luaLiteral(value, seen = new Set()) {
  if (value === null || value === undefined) return 'nil';
  switch (typeof value) {
    case 'boolean': return String(value);
    case 'bigint':
      if (value < -(2n ** 63n) || value >= 2n ** 63n) throw new TypeError('integer out of the 64-bit range');
      // Lua reads 9223372036854775808 as a float: the smallest integer has no literal.
      if (value === -(2n ** 63n)) return 'math.mininteger';
      return value < 0n ? `(${value})` : String(value);
    case 'string': return luaString(value);
    case 'number':
      if (Number.isNaN(value)) return '(0/0)';
      if (!Number.isFinite(value)) return value > 0 ? 'math.huge' : '(-math.huge)';
      if (Number.isInteger(value) && Number.isSafeInteger(value)) return value < 0 ? `(${value})` : String(value);
      // Lua reads JS's shortest round-trip form back to the same double; `.0` keeps a
      // float a float.
      return /[.e]/.test(String(value)) ? `(${value})` : `(${value}.0)`;
    default: break;
  }
  if (value instanceof Uint8Array) return luaString(value);
  const plain = Array.isArray(value) || Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null;
  if (typeof value !== 'object' || !plain) throw new TypeError(`a ${typeof value === 'object' ? value.constructor?.name ?? 'object' : typeof value} cannot become Lua source`);
  if (seen.has(value)) throw new TypeError('a value that contains itself cannot become Lua source');
  seen.add(value);
  const fields = Array.isArray(value)
    ? value.map((v, i) => `[${i + 1}]=${luaLiteral(v, seen)}`)
    : Object.entries(value).map(([k, v]) => `[${luaString(k)}]=${luaLiteral(v, seen)}`);
  seen.delete(value);
  return `{${fields.join(',')}}`;
}
