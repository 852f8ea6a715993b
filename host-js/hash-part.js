// The hash part of an external table: its keys outside the array part, with their values, as
// encoded bytes in one growing Uint8Array (the arena), found through an open-addressing index.
// A write copies the bytes the module hands over and a read copies them back: neither makes a
// JS object per entry, so a million string keys leave the garbage collector nothing to trace.

import { compactValue, binaryString, INTEGER, safeInteger } from './compact.js';

/**
 * A record: `u32 key length`, `i32 value length` (DELETED once removed), `u32 slot`, then the
 * key's and the value's encodings back to back, as a page of `next` wants them.
 */
const HEADER = 12;
const DELETED = -1;
const MIN_ARENA = 64;
/** Index cells are int32 pairs (hash, record offset + 1). */
const MAX_ARENA = 2 ** 31 - 2;
/** A hash part of up to this many slots is searched in order: a small table costs no index. */
const SMALL = 8;
const MIN_CELLS = 32;
/** Shorter copies go byte by byte: cheaper than making a subarray to `set` from. */
const SHORT_COPY = 32;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * Keys in insertion order (slots), each with its value or a note that it was deleted. A
 * deleted key keeps its slot until `dropDeleted()`, so its place in the order stays known. A
 * value that outgrows its record moves the record to the end of the arena (its slot, and so
 * its place in the order, stay); the arena is compacted instead of grown once at least half
 * of it is such garbage.
 */
export class HashPart {
  constructor() {
    this.bytes = new Uint8Array(MIN_ARENA);
    /** Bytes of the arena in use. */
    this.top = 0;
    /** Bytes of the arena that no record uses any more. */
    this.waste = 0;
    /** Record offset per slot, in insertion order. */
    this.slots = [];
    this.deleted = 0;
    /**
     * Open addressing, linear probing: per cell a key hash and its record's offset + 1 (0: an
     * empty cell), at most half full. Null while there are at most SMALL slots.
     */
    this.index = null;
  }

  get size() { return this.slots.length - this.deleted; }

  /** The record of the key encoded at `mem[at..at+len]`, deleted or not; -1 when there is none. */
  find(mem, at, len) {
    return this.findHashed(mem, at, len, this.index === null ? 0 : hashBytes(mem, at, len));
  }

  /** `find` for a key whose hash `h` is known (any number while there is no index). */
  findHashed(mem, at, len, h) {
    const index = this.index;
    if (index === null) {
      const slots = this.slots;
      for (let s = 0; s < slots.length; s++) if (this.keyIs(slots[s], mem, at, len)) return slots[s];
      return -1;
    }
    const mask = (index.length >> 1) - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const r = index[2 * i + 1] - 1;
      if (r < 0) return -1;
      if (index[2 * i] === h && this.keyIs(r, mem, at, len)) return r;
    }
  }

  keyIs(r, mem, at, len) {
    const b = this.bytes;
    if (u32(b, r) !== len) return false;
    const key = r + HEADER;
    for (let i = 0; i < len; i++) if (b[key + i] !== mem[at + i]) return false;
    return true;
  }

  /** The compact value of the key encoded at `mem[at..at+len]`, or undefined. */
  value(mem, at, len) {
    const r = this.find(mem, at, len);
    return r < 0 ? undefined : this.valueOf(r);
  }

  /** The compact value of record `r`; undefined once deleted. */
  valueOf(r) {
    const b = this.bytes;
    const vlen = i32(b, r + 4);
    return vlen === DELETED ? undefined : compactValue(b, r + HEADER + u32(b, r), vlen);
  }

  /** The key of record `r` as a Map key (see `keyString` in tables.js). */
  keyOf(r) {
    const b = this.bytes;
    const len = u32(b, r);
    if (len === 9 && b[r + HEADER] === INTEGER) {
      const n = safeInteger(b, r + HEADER);
      if (n !== undefined) return n;
    }
    return binaryString(b, r + HEADER, len);
  }

  /**
   * Copies the value of the key encoded at `mem[at..at+len]` to `mem[to..]` if it fits in
   * `max` bytes; returns its length, or -1 when the key is absent.
   */
  read(mem, at, len, to, max) {
    const r = this.find(mem, at, len);
    const vlen = r < 0 ? DELETED : i32(this.bytes, r + 4);
    if (vlen !== DELETED && vlen <= max) copy(this.bytes, r + HEADER + len, vlen, mem, to);
    return vlen;
  }

  /** The position of the key encoded at `mem[at..at+len]` in the order, deleted or not; -1 when unknown. */
  slotOfKey(mem, at, len) {
    const r = this.find(mem, at, len);
    return r < 0 ? -1 : u32(this.bytes, r + 8);
  }

  /**
   * Stores the value encoded at `vmem[vat..vat+vlen]` under the key encoded at
   * `kmem[kat..kat+klen]`. Returns the compact value it replaces, or undefined.
   */
  put(kmem, kat, klen, vmem, vat, vlen) {
    // Hashed once: a new key is looked for, then placed in the index.
    const h = hashBytes(kmem, kat, klen);
    const r = this.findHashed(kmem, kat, klen, h);
    if (r < 0) {
      this.append(kmem, kat, klen, vmem, vat, vlen, h);
      return undefined;
    }
    const b = this.bytes;
    const had = i32(b, r + 4);
    const old = this.valueOf(r);
    if (had === DELETED) this.deleted--;
    if (vlen <= had) {
      copy(vmem, vat, vlen, b, r + HEADER + klen);
      setU32(b, r + 4, vlen);
      this.waste += had - vlen;
    } else {
      this.move(r, vmem, vat, vlen);
    }
    return old;
  }

  /** Marks the key encoded at `mem[at..at+len]` deleted; returns the compact value it had, or undefined. */
  remove(mem, at, len) {
    const r = this.find(mem, at, len);
    const old = r < 0 ? undefined : this.valueOf(r);
    if (old === undefined) return undefined;
    this.waste += i32(this.bytes, r + 4);
    setU32(this.bytes, r + 4, DELETED);
    this.deleted++;
    return old;
  }

  // A record for a new key (hashing to `h`), in a new slot.
  append(kmem, kat, klen, vmem, vat, vlen, h) {
    this.reserve(HEADER + klen + vlen);
    const r = this.top;
    const slot = this.slots.length;
    this.write(r, slot, kmem, kat, klen, vmem, vat, vlen);
    this.slots.push(r);
    if (this.index === null) {
      if (slot + 1 > SMALL) this.reindex();
      return;
    }
    // An index grows from its own cells, so the new record is placed after.
    if ((slot + 1) * 4 > this.index.length) this.reindex();
    this.place(h, r);
  }

  // Record `r` gets a value too long for it: a copy at the end of the arena takes its place.
  move(r, vmem, vat, vlen) {
    const slot = u32(this.bytes, r + 8);
    const klen = u32(this.bytes, r);
    this.reserve(HEADER + klen + vlen);
    // Reserving may have compacted the arena: the slot knows where the record is now.
    const from = this.slots[slot];
    const to = this.top;
    const b = this.bytes;
    this.write(to, slot, b, from + HEADER, klen, vmem, vat, vlen);
    this.slots[slot] = to;
    this.waste += HEADER + klen + Math.max(0, i32(b, from + 4));
    const index = this.index;
    if (index === null) return;
    const mask = (index.length >> 1) - 1;
    let i = hashBytes(b, to + HEADER, klen) & mask;
    while (index[2 * i + 1] !== from + 1) i = (i + 1) & mask;
    index[2 * i + 1] = to + 1;
  }

  write(r, slot, kmem, kat, klen, vmem, vat, vlen) {
    const b = this.bytes;
    setU32(b, r, klen);
    setU32(b, r + 4, vlen);
    setU32(b, r + 8, slot);
    copy(kmem, kat, klen, b, r + HEADER);
    copy(vmem, vat, vlen, b, r + HEADER + klen);
    this.top = r + HEADER + klen + vlen;
  }

  // Room for `n` more bytes at the end of the arena: a compacted copy when at least half of
  // the arena is garbage, else one twice as large.
  reserve(n) {
    if (this.top + n <= this.bytes.length) return;
    const compact = this.waste * 2 >= this.top;
    const need = this.top - (compact ? this.waste : 0) + n;
    if (need > MAX_ARENA) throw new RangeError(`an external table cannot hold more than ${MAX_ARENA} bytes of keys and values`);
    let size = this.bytes.length;
    while (size < need) size = Math.min(size * 2, MAX_ARENA);
    if (compact) this.compact(size, false);
    else {
      const bytes = new Uint8Array(size);
      bytes.set(this.bytes.subarray(0, this.top));
      this.bytes = bytes;
    }
  }

  /**
   * Copies the records into a fresh arena of `size` bytes, in slot order, leaving the garbage
   * behind; with `dropDeleted`, also the deleted keys, whose slots then go (renumbering the rest).
   */
  compact(size, dropDeleted) {
    const from = this.bytes;
    const to = new Uint8Array(size);
    const slots = [];
    let top = 0;
    for (const r of this.slots) {
      const vlen = i32(from, r + 4);
      if (dropDeleted && vlen === DELETED) continue;
      const n = HEADER + u32(from, r) + Math.max(vlen, 0);
      copy(from, r, n, to, top);
      setU32(to, top + 8, slots.length);
      slots.push(top);
      top += n;
    }
    this.bytes = to;
    this.top = top;
    this.waste = 0;
    this.slots = slots;
    if (dropDeleted) this.deleted = 0;
    // Every record moved: the index is made again from the slots.
    const indexed = this.index !== null || slots.length > SMALL;
    this.index = null;
    if (indexed) this.reindex();
  }

  /** Forgets the deleted keys (and their places in the order). */
  dropDeleted() {
    const live = this.top - this.waste;
    let size = MIN_ARENA;
    while (size < live) size *= 2;
    this.compact(size, true);
    if (this.slots.length <= SMALL) this.index = null;
  }

  // A fresh index, at most half full. Grown from the old one, cell by cell: its writes then
  // go forward through the new index instead of all over it (a copy rather than a scatter).
  reindex() {
    let cells = MIN_CELLS;
    while (cells < this.slots.length * 2) cells *= 2;
    const old = this.index;
    this.index = new Int32Array(2 * cells);
    if (old === null) {
      const b = this.bytes;
      for (const r of this.slots) this.place(hashBytes(b, r + HEADER, u32(b, r)), r);
      return;
    }
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.place(old[i], old[i + 1] - 1);
  }

  place(h, r) {
    const index = this.index;
    const mask = (index.length >> 1) - 1;
    let i = h & mask;
    while (index[2 * i + 1] !== 0) i = (i + 1) & mask;
    index[2 * i] = h;
    index[2 * i + 1] = r + 1;
  }

  /**
   * Continues a page of `next` (see `Table.writePage`) that has `written` bytes at `mem[at..]`
   * with the entries from slot `slot` on. Returns the bytes written, or when not even the
   * page's first entry fits, the bytes it needs.
   */
  writePage(slot, mem, at, max, written) {
    const b = this.bytes;
    const slots = this.slots;
    for (let s = slot; s < slots.length; s++) {
      const r = slots[s];
      const vlen = i32(b, r + 4);
      if (vlen === DELETED) continue;
      const need = u32(b, r) + vlen;
      if (written + need > max) return written === 0 ? need : written;
      copy(b, r + HEADER, need, mem, at + written);
      written += need;
    }
    return written;
  }

  /** [Map key, compact value] of every entry, in order. */
  *pairs() {
    for (let s = 0; s < this.slots.length; s++) {
      const r = this.slots[s];
      const v = this.valueOf(r);
      if (v !== undefined) yield [this.keyOf(r), v];
    }
  }
}

function copy(from, start, len, to, at) {
  if (len <= SHORT_COPY) for (let i = 0; i < len; i++) to[at + i] = from[start + i];
  else to.set(from.subarray(start, start + len), at);
}

function u32(b, at) { return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0; }

function i32(b, at) { return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24); }

function setU32(b, at, n) {
  b[at] = n; b[at + 1] = n >> 8; b[at + 2] = n >> 16; b[at + 3] = n >> 24;
}

// Hashes keep 30 bits: small integers (Smis) for V8.
function hashBytes(mem, at, len) {
  let h = FNV_OFFSET;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ mem[at + i], FNV_PRIME);
  return h & 0x3fffffff;
}
