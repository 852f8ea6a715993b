// The hash part of an external table: its keys outside the array part, with their values, as
// encoded bytes in a list of Uint8Array chunks (the arena), found through an open-addressing index.
// A write copies the bytes the module hands over and a read copies them back: neither makes a
// JS object per entry, so a million string keys leave the garbage collector nothing to trace.

import { compactValue, binaryString, INTEGER, safeInteger } from './compact.js';

/**
 * A record: a header of four int32s (the key's length, the value's length or DELETED once
 * removed, the slot, the key's hash), then the key's and the value's encodings back to back, as
 * a page of `next` wants them. Records start at multiples of ALIGN, so an index cell can keep a
 * record's address in fewer bits, and the header is read and written as whole words.
 */
const HEADER = 16;
const KEY_LENGTH = 0;
const VALUE_LENGTH = 1;
const SLOT = 2;
const HASH = 3;
const ALIGN = 8;
const DELETED = -1;
const MIN_ARENA = 64;
/**
 * The arena is a list of chunks of CHUNK bytes, filled in turn: growing it copies nothing and
 * touches no more fresh memory than it holds. A table's first chunk starts at MIN_ARENA bytes
 * and doubles up to CHUNK, so a small table stays small. A record never spans chunks; one
 * larger than CHUNK gets a chunk of its own.
 */
const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;
const IN_CHUNK = CHUNK - 1;
/**
 * An index cell is an int32: a tag (4 bits of the key's hash, never 0) above the record's
 * address (chunk << CHUNK_BITS | offset) / ALIGN. An empty cell is 0.
 */
const TAG_SHIFT = 28;
const ADDRESS = (1 << TAG_SHIFT) - 1;
const MAX_CHUNKS = 2048;
const MAX_ARENA = 2 ** 31 - 2;
/** A hash part of up to this many slots is searched in order: a small table costs no index. */
const SMALL = 8;
const MIN_CELLS = 32;
const MIN_SLOTS = 8;
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
    /** The arena's chunks; records are appended to the last one. */
    this.chunks = [new Uint8Array(MIN_ARENA)];
    /** A DataView over each chunk: headers are read, and records written, a word at a time. */
    this.views = this.chunks.map(viewOver);
    /** Bytes of the last chunk in use. */
    this.top = 0;
    /** Bytes of records written, live or garbage (for the limit and compaction). */
    this.used = 0;
    /** Bytes of the arena that no record uses any more. */
    this.waste = 0;
    /** Record address per slot, in insertion order: `slotCount` of them. */
    this.slots = new Int32Array(MIN_SLOTS);
    this.slotCount = 0;
    this.deleted = 0;
    /**
     * Open addressing, linear probing, at most half full: per cell a tag and the record's
     * address (see TAG_SHIFT), half the size of cells that hold a whole hash (reads of a
     * table of millions of keys were 7-16 % faster). Null while there are at most SMALL slots.
     */
    this.index = null;
    /** The byte array last copied out to (the module's memory, as a rule), and a DataView over it. */
    this.outBytes = null;
    this.outView = null;
  }

  get size() { return this.slotCount - this.deleted; }

  /** The chunk holding record `r`. */
  chunkOf(r) { return this.chunks[r >>> CHUNK_BITS]; }

  /** Field `field` of record `r`'s header. */
  head(r, field) { return this.views[r >>> CHUNK_BITS].getInt32((r & IN_CHUNK) + 4 * field, true); }

  setHead(r, field, n) { this.views[r >>> CHUNK_BITS].setInt32((r & IN_CHUNK) + 4 * field, n, true); }

  /**
   * Copies `len` bytes from `from[start..]` to address `to` of the arena. A short copy goes a
   * word at a time: a store through a DataView costs about what a typed array's costs per byte.
   */
  copyIn(from, start, len, to) {
    const at = to & IN_CHUNK;
    if (len > SHORT_COPY) {
      this.chunkOf(to).set(from.subarray(start, start + len), at);
      return;
    }
    const view = this.views[to >>> CHUNK_BITS];
    let i = 0;
    for (; i + 4 <= len; i += 4) {
      const j = start + i;
      view.setInt32(at + i, from[j] | (from[j + 1] << 8) | (from[j + 2] << 16) | (from[j + 3] << 24), true);
    }
    for (; i < len; i++) view.setUint8(at + i, from[start + i]);
  }

  /** Copies `len` bytes from address `from` of the arena to `to[at..]`, as `copyIn` does. */
  copyOut(from, len, to, at) {
    const start = from & IN_CHUNK;
    if (len > SHORT_COPY) {
      to.set(this.chunkOf(from).subarray(start, start + len), at);
      return;
    }
    const source = this.views[from >>> CHUNK_BITS];
    if (to !== this.outBytes) {
      this.outView = new DataView(to.buffer, to.byteOffset, to.byteLength);
      this.outBytes = to;
    }
    const view = this.outView;
    let i = 0;
    for (; i + 4 <= len; i += 4) view.setInt32(at + i, source.getInt32(start + i, true), true);
    for (; i < len; i++) view.setUint8(at + i, source.getUint8(start + i));
  }

  /** The record of the key encoded at `mem[at..at+len]`, deleted or not; -1 when there is none. */
  find(mem, at, len) {
    return this.findHashed(mem, at, len, this.index === null ? 0 : hashBytes(mem, at, len));
  }

  /** `find` for a key whose hash `h` is known (any number while there is no index). */
  findHashed(mem, at, len, h) {
    const index = this.index;
    if (index === null) {
      const slots = this.slots;
      for (let s = 0; s < this.slotCount; s++) if (this.keyIs(slots[s], mem, at, len)) return slots[s];
      return -1;
    }
    const mask = index.length - 1;
    const tag = tagOf(h);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const cell = index[i];
      if (cell === 0) return -1;
      if (cell >>> TAG_SHIFT === tag) {
        const r = (cell & ADDRESS) * ALIGN;
        if (this.keyIs(r, mem, at, len)) return r;
      }
    }
  }

  keyIs(r, mem, at, len) {
    if (this.head(r, KEY_LENGTH) !== len) return false;
    const b = this.chunkOf(r);
    const o = r & IN_CHUNK;
    const key = o + HEADER;
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
    const vlen = this.head(r, VALUE_LENGTH);
    return vlen === DELETED ? undefined : compactValue(this.chunkOf(r), (r & IN_CHUNK) + HEADER + this.head(r, KEY_LENGTH), vlen);
  }

  /** The key of record `r` as a Map key (see `keyString` in tables.js). */
  keyOf(r) {
    const b = this.chunkOf(r);
    const o = r & IN_CHUNK;
    const len = this.head(r, KEY_LENGTH);
    if (len === 9 && b[o + HEADER] === INTEGER) {
      const n = safeInteger(b, o + HEADER);
      if (n !== undefined) return n;
    }
    return binaryString(b, o + HEADER, len);
  }

  /**
   * Copies the value of the key encoded at `mem[at..at+len]` to `mem[to..]` if it fits in
   * `max` bytes; returns its length, or -1 when the key is absent.
   */
  read(mem, at, len, to, max) {
    const r = this.find(mem, at, len);
    if (r < 0) return DELETED;
    const vlen = this.head(r, VALUE_LENGTH);
    if (vlen !== DELETED && vlen <= max) this.copyOut(r + HEADER + len, vlen, mem, to);
    return vlen;
  }

  /** The position of the key encoded at `mem[at..at+len]` in the order, deleted or not; -1 when unknown. */
  slotOfKey(mem, at, len) {
    const r = this.find(mem, at, len);
    return r < 0 ? -1 : this.head(r, SLOT);
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
    const had = this.head(r, VALUE_LENGTH);
    const old = this.valueOf(r);
    if (had === DELETED) this.deleted--;
    if (vlen <= had) {
      this.copyIn(vmem, vat, vlen, r + HEADER + klen);
      this.setHead(r, VALUE_LENGTH, vlen);
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
    this.waste += this.head(r, VALUE_LENGTH);
    this.setHead(r, VALUE_LENGTH, DELETED);
    this.deleted++;
    return old;
  }

  // A record for a new key (hashing to `h`), in a new slot.
  append(kmem, kat, klen, vmem, vat, vlen, h) {
    const r = this.reserve(HEADER + klen + vlen);
    const slot = this.slotCount;
    this.write(r, slot, h, kmem, kat, klen, vmem, vat, vlen);
    this.pushSlot(r);
    const index = this.index;
    // A new index is made from the slots, this record's among them.
    if (index === null ? slot + 1 > SMALL : (slot + 1) * 2 > index.length) this.reindex();
    else if (index !== null) this.place(h, r);
  }

  pushSlot(r) {
    if (this.slotCount === this.slots.length) {
      const slots = new Int32Array(this.slots.length * 2);
      slots.set(this.slots);
      this.slots = slots;
    }
    this.slots[this.slotCount++] = r;
  }

  // Record `r` gets a value too long for it: a copy at the end of the arena takes its place.
  move(r, vmem, vat, vlen) {
    const slot = this.head(r, SLOT);
    const klen = this.head(r, KEY_LENGTH);
    const to = this.reserve(HEADER + klen + vlen);
    // Reserving may have compacted the arena: the slot knows where the record is now.
    const from = this.slots[slot];
    const h = this.head(from, HASH);
    this.write(to, slot, h, this.chunkOf(from), (from & IN_CHUNK) + HEADER, klen, vmem, vat, vlen);
    this.slots[slot] = to;
    this.waste += HEADER + klen + Math.max(0, this.head(from, VALUE_LENGTH));
    const index = this.index;
    if (index === null) return;
    const mask = index.length - 1;
    let i = h & mask;
    while ((index[i] & ADDRESS) !== from / ALIGN) i = (i + 1) & mask;
    index[i] = (index[i] & ~ADDRESS) | (to / ALIGN);
  }

  write(r, slot, h, kmem, kat, klen, vmem, vat, vlen) {
    const o = r & IN_CHUNK;
    const view = this.views[r >>> CHUNK_BITS];
    view.setInt32(o + 4 * KEY_LENGTH, klen, true);
    view.setInt32(o + 4 * VALUE_LENGTH, vlen, true);
    view.setInt32(o + 4 * SLOT, slot, true);
    view.setInt32(o + 4 * HASH, h, true);
    this.copyIn(kmem, kat, klen, r + HEADER);
    this.copyIn(vmem, vat, vlen, r + HEADER + klen);
    const n = aligned(HEADER + klen + vlen);
    this.top += n;
    this.used += n;
  }

  /**
   * The address at which a record of `n` bytes goes: in the last chunk if it fits, else in a
   * grown first chunk or a new one. The arena is compacted instead once at least half of it is
   * garbage.
   */
  reserve(n) {
    n = aligned(n);
    const chunks = this.chunks;
    let last = chunks[chunks.length - 1];
    if (this.top + n <= last.length) return ((chunks.length - 1) << CHUNK_BITS) + this.top;
    if (this.waste * 2 >= this.used && this.waste > 0) {
      this.compact(false);
      return this.reserve(n);
    }
    if (this.used - this.waste + n > MAX_ARENA || chunks.length === MAX_CHUNKS) {
      throw new RangeError(`an external table cannot hold more than ${MAX_ARENA} bytes of keys and values`);
    }
    if (chunks.length === 1 && this.top + n <= CHUNK) {
      let size = last.length;
      while (size < this.top + n) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(last.subarray(0, this.top));
      chunks[0] = grown;
      this.views[0] = viewOver(grown);
      return this.top;
    }
    chunks.push(new Uint8Array(Math.max(CHUNK, n)));
    this.views.push(viewOver(chunks[chunks.length - 1]));
    this.top = 0;
    return (chunks.length - 1) << CHUNK_BITS;
  }

  /**
   * Copies the records into a fresh arena, in slot order, leaving the garbage behind; with
   * `dropDeleted`, also the deleted keys, whose slots then go (renumbering the rest).
   */
  compact(dropDeleted) {
    const chunks = this.chunks;
    const views = this.views;
    const fromSlots = this.slots;
    const count = this.slotCount;
    const live = this.used - this.waste;
    let first = MIN_ARENA;
    while (first < Math.min(live, CHUNK)) first *= 2;
    this.chunks = [new Uint8Array(first)];
    this.views = this.chunks.map(viewOver);
    this.top = 0;
    this.used = 0;
    this.waste = 0;
    this.slots = new Int32Array(Math.max(MIN_SLOTS, count));
    this.slotCount = 0;
    for (let s = 0; s < count; s++) {
      const r = fromSlots[s];
      const view = views[r >>> CHUNK_BITS];
      const o = r & IN_CHUNK;
      const vlen = view.getInt32(o + 4 * VALUE_LENGTH, true);
      if (dropDeleted && vlen === DELETED) continue;
      const klen = view.getInt32(o + 4 * KEY_LENGTH, true);
      const n = HEADER + klen + Math.max(vlen, 0);
      const to = this.reserve(n);
      this.copyIn(chunks[r >>> CHUNK_BITS], o, n, to);
      this.setHead(to, SLOT, this.slotCount);
      this.top += aligned(n);
      this.used += aligned(n);
      this.pushSlot(to);
    }
    if (dropDeleted) this.deleted = 0;
    // Every record moved: the index is made again from the slots.
    this.index = null;
    if (this.slotCount > SMALL) this.reindex();
  }

  /** Forgets the deleted keys (and their places in the order). */
  dropDeleted() {
    this.compact(true);
  }

  // A fresh index, at most half full, made from the slots with the hashes their records keep
  // (the records lie in arena order, so this reads the arena front to back).
  reindex() {
    let cells = MIN_CELLS;
    while (cells < this.slotCount * 2) cells *= 2;
    this.index = new Int32Array(cells);
    for (let s = 0; s < this.slotCount; s++) {
      const r = this.slots[s];
      this.place(this.head(r, HASH), r);
    }
  }

  place(h, r) {
    const index = this.index;
    const mask = index.length - 1;
    let i = h & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = (tagOf(h) << TAG_SHIFT) | (r / ALIGN);
  }

  /**
   * Continues a page of `next` (see `Table.writePage`) that has `written` bytes at `mem[at..]`
   * with the entries from slot `slot` on. Returns the bytes written, or when not even the
   * page's first entry fits, the bytes it needs.
   */
  writePage(slot, mem, at, max, written) {
    const slots = this.slots;
    for (let s = slot; s < this.slotCount; s++) {
      const r = slots[s];
      const vlen = this.head(r, VALUE_LENGTH);
      if (vlen === DELETED) continue;
      const need = this.head(r, KEY_LENGTH) + vlen;
      if (written + need > max) return written === 0 ? need : written;
      this.copyOut(r + HEADER, need, mem, at + written);
      written += need;
    }
    return written;
  }

  /** [Map key, compact value] of every entry, in order. */
  *pairs() {
    for (let s = 0; s < this.slotCount; s++) {
      const r = this.slots[s];
      const v = this.valueOf(r);
      if (v !== undefined) yield [this.keyOf(r), v];
    }
  }
}

/** `n` rounded up to a multiple of ALIGN. */
function aligned(n) { return (n + ALIGN - 1) & -ALIGN; }

/** The tag of a key hashing to `h`: 4 bits other than the low ones that pick its cell, never 0. */
function tagOf(h) { return ((h >>> 24) % 15) + 1; }


function viewOver(chunk) { return new DataView(chunk.buffer); }

// Hashes keep 30 bits: small integers (Smis) for V8.
function hashBytes(mem, at, len) {
  let h = FNV_OFFSET;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ mem[at + i], FNV_PRIME);
  return h & 0x3fffffff;
}
