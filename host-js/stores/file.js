// A store in a directory, for Node. Atomic: a process killed at any point of a save leaves
// either the old state or the new one.
//
// Layout: `MANIFEST` (JSON: format, generation, metadata record, list of segment files with
// their length and SHA-256) and `seg-<generation>.log` files, each a log of put / delete /
// drop-table records. A save appends one segment and then replaces MANIFEST by rename; a
// segment not listed in MANIFEST is ignored (and removed by the next save). When the log
// grows long, a save writes one compacted segment instead.
//
// Several processes (or several stores in one process) may share a directory: loads and
// saves hold the lock file `LOCK`, and a save whose base generation is no longer the stored
// one is refused (see docs/stores.md).

import { open, readFile, readdir, rename, unlink, mkdir, stat, link, writeFile } from 'node:fs/promises';
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { keyString, Entry } from '../tables.js';
import { StoreError } from '../errors.js';

const MANIFEST = 'MANIFEST';
const LOCK = 'LOCK';
const MANIFEST_FORMAT = 'lua-persist-files/1';
const SEGMENT = /^seg-(\d+)\.log$/;
const MAGIC = Buffer.from('LPSEG01\n');
const OP_PUT = 1;
const OP_DELETE = 2;
const OP_DROP = 3;

/** Stores the state in `dir` (created on first save). */
export class FileStore {
  #chain = Promise.resolve();

  /**
   * @param {string} dir
   * @param {{fsync?: boolean, maxSegments?: number, timeout?: number, lockTimeout?: number,
   *   staleLockMs?: number}} [options] `fsync: false` trades crash safety for speed (tests);
   *   `maxSegments` bounds the log before compaction (default 16); `timeout`: ms the engine
   *   waits for a load or save before giving up (default 0, none); `lockTimeout`: ms to wait
   *   for another writer's lock (default 10 s); `staleLockMs`: age after which a lock whose
   *   owner cannot be checked (another host) is broken (default 60 s)
   */
  constructor(dir, { fsync = true, maxSegments = 16, timeout = 0, lockTimeout = 10_000, staleLockMs = 60_000 } = {}) {
    this.dir = resolve(dir);
    this.fsync = fsync;
    this.maxSegments = maxSegments;
    this.timeout = timeout;
    this.lockTimeout = lockTimeout;
    this.staleLockMs = staleLockMs;
    /** Cumulative bytes written to disk and segment counts: for tests and curiosity. */
    this.stats = { saves: 0, bytesWritten: 0, compactions: 0 };
  }

  /** Where the state lives, for messages. */
  describe() { return this.dir; }

  /** @returns {Promise<null | {metadata: object, generation: number, tables: Map<number, Map<number|string, Entry>>}>} */
  load() {
    return this.#serial(async () => {
      // Reading a directory that does not exist creates nothing.
      if ((await this.#names()) === null) return null;
      return this.#locked(() => this.#load());
    });
  }

  /** Applies one batch atomically (see docs/stores.md); resolves to the new generation. */
  save(batch) {
    return this.#serial(async () => {
      await mkdir(this.dir, { recursive: true });
      return this.#locked((token) => this.#save(batch, token));
    });
  }

  /** Removes the state (the directory's MANIFEST and segments). */
  clear() {
    return this.#serial(async () => {
      if ((await this.#names()) === null) return;
      await this.#locked(async () => {
        await unlink(join(this.dir, MANIFEST)).catch(ignoreMissing);
        await this.#sweep([]);
      });
    });
  }

  #serial(fn) {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }

  async #names() {
    try { return await readdir(this.dir); } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw new StoreError(`cannot read ${this.dir}: ${e.message}`, { cause: e });
    }
  }

  // Runs `fn(token)` holding LOCK, a file that names its owner. It is written whole under
  // a private name and then hard-linked as LOCK, which fails if LOCK exists: a process killed
  // at any moment leaves no LOCK or a complete one.
  async #locked(fn) {
    const token = await this.#lock();
    try {
      return await fn(token);
    } finally {
      if (await this.#holds(token)) await unlink(join(this.dir, LOCK)).catch(ignoreMissing);
    }
  }

  async #lock() {
    const path = join(this.dir, LOCK);
    const token = randomUUID();
    const text = JSON.stringify({ pid: process.pid, host: hostname(), token, at: new Date().toISOString() });
    const deadline = Date.now() + this.lockTimeout;
    const mine = `${path}.${token}`;
    for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
      try {
        await writeFile(mine, text);
        await link(mine, path);
        return token;
      } catch (e) {
        // ENOENT: another writer's sweep removed our private file; write it again.
        if (e.code !== 'EEXIST' && e.code !== 'ENOENT') throw new StoreError(`cannot lock ${this.dir}: ${e.message}`, { cause: e });
      } finally {
        await unlink(mine).catch(ignoreMissing);
      }
      const holder = await this.#holder();
      if (holder?.stale) {
        // Moved aside first, so that of several processes breaking it only one succeeds. If
        // what was moved is not the lock judged stale, another process broke that one and
        // locked in between: its lock goes back.
        const aside = `${path}.stale-${token}`;
        if (await rename(path, aside).then(() => true, () => false)) {
          if ((await readOwner(aside))?.token !== holder.token) await link(aside, path).catch(() => {});
          await unlink(aside).catch(ignoreMissing);
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw new StoreError(`${this.dir} is locked by ${holder?.owner ?? 'another writer'} ` +
          `(waited ${this.lockTimeout} ms); if no process uses it, remove ${path}`, { code: 'locked' });
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  // Who holds LOCK, and whether that owner is gone: a dead process on this host, or a lock
  // older than staleLockMs that cannot be checked. null when the lock is already gone.
  async #holder() {
    const path = join(this.dir, LOCK);
    let text;
    let age;
    try {
      text = await readFile(path, 'utf8');
      age = Date.now() - (await stat(path)).mtimeMs;
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw new StoreError(`cannot read ${path}: ${e.message}`, { cause: e });
    }
    let owner = null;
    try { owner = JSON.parse(text); } catch { /* not a lock this store wrote */ }
    const token = owner?.token;
    if (owner?.host === hostname() && Number.isInteger(owner.pid)) {
      return { owner: `process ${owner.pid}`, token, stale: !processExists(owner.pid) };
    }
    return { owner: owner?.host ? `process ${owner.pid} on ${owner.host}` : 'another writer', token, stale: age > this.staleLockMs };
  }

  async #holds(token) { return (await readOwner(join(this.dir, LOCK)))?.token === token; }

  async #readManifest() {
    let text;
    try {
      text = await readFile(join(this.dir, MANIFEST), 'utf8');
    } catch (e) {
      if (e.code !== 'ENOENT') throw new StoreError(`cannot read ${join(this.dir, MANIFEST)}: ${e.message}`, { cause: e });
      // Segments without a manifest are a damaged state, not an empty one.
      const orphans = ((await this.#names()) ?? []).filter((n) => SEGMENT.test(n)).sort();
      if (orphans.length) {
        throw this.#damaged(`MANIFEST is missing but ${orphans.slice(0, 3).join(', ')}${orphans.length > 3 ? ', ...' : ''} ` +
          `${orphans.length > 1 ? 'exist' : 'exists'}; a first save may have been interrupted`);
      }
      return null;
    }
    let m;
    try { m = JSON.parse(text); } catch { throw this.#damaged('MANIFEST is not valid JSON'); }
    if (m?.format !== MANIFEST_FORMAT) throw this.#damaged(`MANIFEST format ${JSON.stringify(m?.format)}, expected ${MANIFEST_FORMAT}`);
    if (!Number.isInteger(m.generation) || !Array.isArray(m.segments) || typeof m.metadata !== 'object') {
      throw this.#damaged('MANIFEST lacks generation, segments or metadata');
    }
    for (const seg of m.segments) {
      // Only names of this directory's segments: never a path to read elsewhere.
      if (typeof seg?.file !== 'string' || !SEGMENT.test(seg.file)) {
        throw this.#damaged(`MANIFEST names ${JSON.stringify(seg?.file)}, which is not a segment file of this directory`);
      }
      if (!Number.isInteger(seg.bytes) || typeof seg.sha256 !== 'string') throw this.#damaged(`MANIFEST entry for ${seg.file} lacks bytes or sha256`);
    }
    return m;
  }

  #damaged(why) {
    return new StoreError(`the saved state in ${this.dir} is damaged or foreign (${why}); it was left untouched: ` +
      'move it away, or save with {overwrite: true} to replace it', { code: 'damaged' });
  }

  async #load() {
    const m = await this.#readManifest();
    if (!m) return null;
    // The tables as the engine keeps them: restored without copying entries to bytes and back
    // (the segments' checksums stand for the checks the engine would make).
    return { metadata: m.metadata, generation: m.generation, tables: await this.#replay(m.segments) };
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

  async #save(batch, token) {
    let m = null;
    let generation = 1;
    try {
      m = await this.#readManifest();
      generation = (m?.generation ?? 0) + 1;
    } catch (e) {
      if (!batch.overwrite || e.code !== 'damaged') throw e;
      // Replacing a damaged state: number the new segment past every one present.
      for (const name of (await this.#names()) ?? []) generation = Math.max(generation, Number(SEGMENT.exec(name)?.[1] ?? 0) + 1);
    }
    const current = m?.generation ?? 0;
    if (!batch.overwrite && ((batch.base != null && batch.base !== current) || (!m && !batch.replace))) {
      throw new StoreError(`${this.dir} was saved by another writer since this engine last loaded or saved it ` +
        `(generation ${current}, this engine's is ${batch.base ?? 'unknown'}); nothing was written and the engine keeps ` +
        'its changes: load() to take that state, or save({overwrite: true}) to replace it', { code: 'stale' });
    }
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
    if (!(await this.#holds(token))) {
      throw new StoreError(`the lock on ${this.dir} was broken while saving (the save took longer than staleLockMs?); ` +
        'nothing was written', { code: 'locked' });
    }
    await rename(join(this.dir, `${MANIFEST}.tmp`), join(this.dir, MANIFEST));
    await this.#syncDir();
    this.stats.saves++;
    this.stats.bytesWritten += records.length + text.length;
    await this.#sweep(next.segments.map((s) => s.file)).catch(() => {});
    return generation;
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

  // Removes segments the manifest no longer lists, a left-over MANIFEST.tmp, and private
  // lock files of processes killed while locking.
  async #sweep(keep) {
    const live = new Set(keep);
    for (const name of (await this.#names()) ?? []) {
      if ((SEGMENT.test(name) && !live.has(name)) || name === `${MANIFEST}.tmp` || name.startsWith(`${LOCK}.`)) {
        await unlink(join(this.dir, name)).catch(ignoreMissing);
      }
    }
  }
}

async function readOwner(path) {
  try { return JSON.parse(await readFile(path, 'utf8')); } catch { return null; }
}

function processExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

function ignoreMissing(e) { if (e?.code !== 'ENOENT') throw e; }

function sha256(bytes) { return createHash('sha256').update(bytes).digest('hex'); }

function applyBatch({ puts, deletes, dropTables }, tables) {
  for (const id of dropTables) tables.delete(id);
  for (const [id, key] of deletes) tables.get(id)?.delete(keyString(key));
  for (const [id, entry] of puts) {
    let t = tables.get(id);
    if (!t) { t = new Map(); tables.set(id, t); }
    t.set(entry.k, entry);
  }
}

function encodeBatch({ puts, deletes, dropTables }) {
  const w = new SegmentWriter();
  for (const id of dropTables) w.drop(id);
  for (const [id, key] of deletes) w.delete(id, key);
  for (const [id, entry] of puts) w.put(id, entry);
  return w.done();
}

function encodeTables(tables) {
  const w = new SegmentWriter();
  for (const [id, t] of tables) for (const entry of t.values()) w.put(id, entry);
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
  put(id, entry) {
    const { keyLength, valueLength } = entry;
    this.#head(OP_PUT, id, keyLength);
    this.#reserve(keyLength + 4 + valueLength);
    entry.writeKey(this.buf, this.size);
    this.size += keyLength;
    this.#u32(valueLength);
    entry.writeValue(this.buf, this.size);
    this.size += valueLength;
  }
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
