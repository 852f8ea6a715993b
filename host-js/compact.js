// The compact form of an encoded value that the host's tables and stores pass around: a
// number for an integer within 2^53, a binary string (one char per byte) for a short
// encoding, else a Uint8Array.

export const INTEGER = 0x02;
export const TWO_32 = 4294967296;

// Values up to this size are kept as binary strings: far cheaper for V8 than one typed array
// (with its own backing store) per entry.
const COMPACT_VALUE_BYTES = 4096;

/** The integer encoded at `bytes[start]` (tag 02) if it is within 2^53, else undefined. */
export function safeInteger(bytes, start) {
  const lo = (bytes[start + 1] | (bytes[start + 2] << 8) | (bytes[start + 3] << 16) | (bytes[start + 4] << 24)) >>> 0;
  const hi = bytes[start + 5] | (bytes[start + 6] << 8) | (bytes[start + 7] << 16) | (bytes[start + 8] << 24);
  return hi >= -0x200000 && hi < 0x200000 ? hi * TWO_32 + lo : undefined;
}

// One reusable array per short length: `apply` over a plain array of small integers is
// several times faster than over a fresh typed-array view, and most keys and values are short.
const SHORT = 64;
const scratch = Array.from({ length: SHORT + 1 }, (_, n) => new Array(n).fill(0));

/** `len` bytes from `start` as a binary string (one char per byte). */
export function binaryString(bytes, start, len) {
  if (len <= SHORT) {
    const a = scratch[len];
    for (let i = 0; i < len; i++) a[i] = bytes[start + i];
    return String.fromCharCode.apply(null, a);
  }
  let s = '';
  for (let i = 0; i < len; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(start + i, start + Math.min(len, i + 8192)));
  }
  return s;
}

/**
 * The compact form of the encoded value at `bytes[start..start+len]`: a number for an integer
 * within 2^53 (no allocation at all), a binary string up to COMPACT_VALUE_BYTES, else a copy.
 */
export function compactValue(bytes, start, len) {
  if (len === 9 && bytes[start] === INTEGER) {
    const n = safeInteger(bytes, start);
    if (n !== undefined) return n;
  }
  return len <= COMPACT_VALUE_BYTES ? binaryString(bytes, start, len) : bytes.slice(start, start + len);
}
