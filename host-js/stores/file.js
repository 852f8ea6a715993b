// A store in a directory, for Node. Atomic: a process killed at any point of a save leaves
// either the old state or the new one.
//
// Layout: `MANIFEST` (JSON: format, generation, metadata record, list of segment files with
// their length and SHA-256) and `seg-<generation>.log` files, each a log of put / delete /
// drop-table records. A save appends one segment and then replaces MANIFEST by rename; a
// segment not listed in MANIFEST is ignored (and removed by the next save). When the log
// grows long, a save writes one compacted segment instead. Only one process may use a
// directory at a time.

import { open, readFile, readdir, rename, unlink, mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { keyString, Entry } from '../tables.js';
import { StoreError } from '../errors.js';

const MANIFEST = 'MANIFEST';
const MANIFEST_FORMAT = 'lua-persist-files/1';
const MAGIC = Buffer.from('LPSEG01\n');
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DROP = 3;

/** Stores the state in `dir` (created on first save). */
export class FileStore {
  #chain = Promise.resolve();
  #manifest = undefined;

  /**
   * @param {string} dir
   * @param {{fsync?: boolean, maxSegments?: number}} [options] `fsync: false` trades crash
   *   safety for speed (tests); `maxSegments` bounds the log before compaction (default 16)
   */
  constructor(dir, { fsync = true, maxSegments = 16 } = {}) {
    this.dir = resolve(dir);
    this.fsync = fsync;
    this.maxSegments = maxSegments;
    /** Cumulative bytes written to disk and segment counts: for tests and curiosity. */
    this.stats = { saves: 0, bytesWritten: 0, compactions: 0 };
  }

  /** Where the state lives, for messages. */
  describe() { return this.dir; }

  /** @returns {Promise<null | {metadata: object, entries: Iterable<[number, Uint8Array, Uint8Array]>}>} */
  load() { return this.#serial(() => this.#load()); }

  /** Applies one batch atomically (see docs/stores.md). */
  save(batch) { return this.#serial(() => this.#save(batch)); }

  /** Removes the state (the directory's MANIFEST and segments). */
  clear() {
    return this.#serial(async () => {
      await unlink(join(this.dir, MANIFEST)).catch(ignoreMissing);
      await this.#sweep([]);
      this.#manifest = null;
    });
  }

  #serial(fn) {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  async #readManifest() {
    let text;
    try {
      text = await readFile(join(this.dir, MANIFEST), 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw new StoreError(`cannot read ${join(this.dir, MANIFEST)}: ${e.message}`, { cause: e });
    }
    let m;
    try { m = JSON.parse(text); } catch { throw this.#damaged('MANIFEST is not valid JSON'); }
    if (m?.format !== MANIFEST_FORMAT) throw this.#damaged(`MANIFEST format ${JSON.stringify(m?.format)}, expected ${MANIFEST_FORMAT}`);
    if (!Number.isInteger(m.generation) || !Array.isArray(m.segments) || typeof m.metadata !== 'object') {
      throw this.#damaged('MANIFEST lacks generation, segments or metadata');
    }
    return m;
  }

  #damaged(why) {
    return new StoreError(`the saved state in ${this.dir} is damaged or foreign (${why}); it was left untouched`);
  }

  async #load() {
    const m = await this.#readManifest();
    this.#manifest = m;
    if (!m) return null;
    const tables = await this.#replay(m.segments);
    // Entries as `[id, Entry]`: restored without copying them to bytes and back.
    function* entries() {
      for (const [id, t] of tables) for (const entry of t.values()) yield [id, entry];
    }
    return { metadata: m.metadata, entries: entries() };
  }

  // Reads and checks every segment, applying them in order.
  async #replay(segments, tables = new Map()) {
    for (const seg of segments) {
      let bytes;
      try {
        bytes = await readFile(join(this.dir, seg.file));
      } catch (e) {
        throw this.#damaged(`segment ${seg.file} cannot be read: ${e.code ?? e.message}`);
      }
      if (bytes.length !== seg.bytes) throw this.#damaged(`segment ${seg.file} has ${bytes.length} bytes, expected ${seg.bytes}`);
      if (sha256(bytes) !== seg.sha256) throw this.#damaged(`segment ${seg.file} fails its checksum`);
      try {
        applySegment(bytes, tables);
      } catch (e) {
        throw this.#damaged(`segment ${seg.file}: ${e.message}`);
      }
    }
    return tables;
  }

  async #save(batch) {
    await mkdir(this.dir, { recursive: true });
    let m = this.#manifest;
    if (m === undefined) {
      try { m = await this.#readManifest(); } catch (e) { if (!batch.replace) throw e; m = null; }
    }
    const generation = (m?.generation ?? 0) + 1;
    let segments = batch.replace || !m ? [] : m.segments;
    let records;
    if (segments.length >= this.maxSegments) {
      // Compact: replay the log plus this batch into one segment.
      const tables = await this.#replay(segments);
      applyBatch(batch, tables);
      records = encodeTables(tables);
      segments = [];
      this.stats.compactions++;
    } else {
      records = encodeBatch(batch);
    }
    const file = `seg-${generation}.log`;
    await this.#writeFile(file, records);
    const next = {
      format: MANIFEST_FORMAT,
      generation,
      metadata: batch.metadata,
      segments: [...segments, { file, bytes: records.length, sha256: sha256(records) }],
    };
    const text = Buffer.from(JSON.stringify(next, null, 1));
    await this.#writeFile(`${MANIFEST}.tmp`, text);
    await rename(join(this.dir, `${MANIFEST}.tmp`), join(this.dir, MANIFEST));
    await this.#syncDir();
    this.#manifest = next;
    this.stats.saves++;
    this.stats.bytesWritten += records.length + text.length;
    await this.#sweep(next.segments.map((s) => s.file)).catch(() => {});
  }

  async #writeFile(name, bytes) {
    const fh = await open(join(this.dir, name), 'w');
    try {
      await fh.writeFile(bytes);
      if (this.fsync) await fh.sync();
    } finally {
      await fh.close();
    }
  }

  async #syncDir() {
    if (!this.fsync) return;
    const fh = await open(this.dir, 'r');
    try { await fh.sync(); } catch { /* some filesystems cannot fsync a directory */ } finally { await fh.close(); }
  }

  // Removes segments the manifest no longer lists, and a left-over MANIFEST.tmp.
  async #sweep(keep) {
    let names;
    try { names = await readdir(this.dir); } catch (e) { return ignoreMissing(e); }
    const live = new Set(keep);
    for (const name of names) {
      if ((/^seg-\d+\.log$/.test(name) && !live.has(name)) || name === `${MANIFEST}.tmp`) {
        await unlink(join(this.dir, name)).catch(ignoreMissing);
      }
    }
  }
}

function ignoreMissing(e) { if (e?.code !== 'ENOENT') throw e; }

function sha256(bytes) { return createHash('sha256').update(bytes).digest('hex'); }

function applyBatch({ puts, deletes, dropTables }, tables) {
  for (const id of dropTables) tables.delete(id);
  for (const [id, key] of deletes) tables.get(id)?.delete(keyString(key));
  for (const [id, key, value] of puts) {
    let t = tables.get(id);
    if (!t) { t = new Map(); tables.set(id, t); }
    const k = keyString(key);
    t.set(k, Entry.of(k, value));
  }
}

function encodeBatch({ puts, deletes, dropTables }) {
  const w = new SegmentWriter();
  for (const id of dropTables) w.drop(id);
  for (const [id, key] of deletes) w.delete(id, key);
  for (const [id, key, value] of puts) w.put(id, key, value);
  return w.done();
}

function encodeTables(tables) {
  const w = new SegmentWriter();
  for (const [id, t] of tables) for (const { key, value } of t.values()) w.put(id, key, value);
  return w.done();
}

// Records go into one buffer that doubles as needed (a million small Buffers cost more in
// allocation and garbage collection than the copying).
class SegmentWriter {
  constructor() { this.buf = Buffer.allocUnsafe(1 << 16); this.size = 0; this.#bytes(MAGIC); }
  #reserve(n) {
    if (this.size + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.size + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.size);
    this.buf = next;
  }
  #head(op, id, n) {
    this.#reserve(9);
    this.buf[this.size] = op;
    this.buf.writeUInt32LE(id, this.size + 1);
    this.buf.writeUInt32LE(n, this.size + 5);
    this.size += 9;
  }
  #bytes(bytes) { this.#reserve(bytes.length); this.buf.set(bytes, this.size); this.size += bytes.length; }
  #u32(n) { this.#reserve(4); this.buf.writeUInt32LE(n, this.size); this.size += 4; }
  put(id, key, value) { this.#head(OP_PUT, id, key.length); this.#bytes(key); this.#u32(value.length); this.#bytes(value); }
  delete(id, key) { this.#head(OP_DELETE, id, key.length); this.#bytes(key); }
  drop(id) { this.#head(OP_DROP, id, 0); }
  done() { return this.buf.subarray(0, this.size); }
}

function applySegment(bytes, tables) {
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('bad header');
  let at = MAGIC.length;
  // Views into the segment; entries copy what they keep (Entry.of).
  const take = (n) => {
    if (at + n > bytes.length) throw new Error(`truncated at byte ${at}`);
    const s = bytes.subarray(at, at + n);
    at += n;
    return s;
  };
  while (at < bytes.length) {
    if (at + 9 > bytes.length) throw new Error(`truncated at byte ${at}`);
    const op = bytes[at];
    const id = bytes.readUInt32LE(at + 1);
    const n = bytes.readUInt32LE(at + 5);
    at += 9;
    if (op === OP_DROP) { tables.delete(id); continue; }
    if (op !== OP_PUT && op !== OP_DELETE) throw new Error(`unknown record ${op} at byte ${at - 9}`);
    const key = take(n);
    let t = tables.get(id);
    if (!t) { t = new Map(); tables.set(id, t); }
    if (op === OP_DELETE) { t.delete(keyString(key)); continue; }
    if (at + 4 > bytes.length) throw new Error(`truncated at byte ${at}`);
    const vlen = bytes.readUInt32LE(at);
    at += 4;
    const k = keyString(key);
    t.set(k, Entry.of(k, take(vlen)));
  }
}
