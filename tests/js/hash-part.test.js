// The hash part of an external table past its first arena chunk: records in later chunks,
// records larger than a chunk, values that outgrow their records, compaction and deleted keys.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HashPart } from '../../host-js/hash-part.js';
import { binaryString } from '../../host-js/compact.js';

/** A string key's encoding (tag 04, u32 length, bytes), as the module hands it over. */
function key(s) {
  const b = new Uint8Array(5 + s.length);
  b[0] = 4;
  new DataView(b.buffer).setUint32(1, s.length, true);
  for (let i = 0; i < s.length; i++) b[5 + i] = s.charCodeAt(i);
  return b;
}

function value(n, fill) {
  const b = new Uint8Array(5 + n);
  b[0] = 4;
  new DataView(b.buffer).setUint32(1, n, true);
  b.fill(fill & 0xff, 5);
  return b;
}

/** The order `next` pages out: every live (key, value) encoding back to back. */
function page(hash) {
  const out = new Uint8Array(16 << 20);
  const n = hash.writePage(0, out, 0, out.length, 0);
  return binaryString(out, 0, n);
}

function expectedPage(order, model) {
  let s = '';
  for (const k of order) if (model.has(k)) s += binaryString(key(k), 0, key(k).length) + binaryString(model.get(k), 0, model.get(k).length);
  return s;
}

test('a hash part of several megabytes agrees with a Map under writes, growing values, deletions and compaction', () => {
  // mulberry32: an LCG's low bits would repeat with a short period here.
  let seed = 11;
  const random = (n) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), seed | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
  const hash = new HashPart();
  const model = new Map();
  /** Keys in slot order, deleted ones included until `dropDeleted`. */
  let order = [];
  const buf = new Uint8Array(4 << 20);
  let mostChunks = 0;
  const put = (k, v) => {
    const kb = key(k);
    const old = hash.put(kb, 0, kb.length, v, 0, v.length);
    assert.equal(old === undefined, !model.has(k), `put ${k}`);
    if (!order.includes(k)) order.push(k);
    model.set(k, v);
  };
  for (let step = 0; step < 40000; step++) {
    const r = random(100);
    const k = `key${random(step < 20000 ? 30000 : 500)}`;
    if (r < 70) put(k, value(random(60), step));
    else if (r < 72) put(`big${random(8)}`, value((1 << 20) + random(4096), step));
    else if (r < 95) {
      const kb = key(k);
      const old = hash.remove(kb, 0, kb.length);
      assert.equal(old === undefined, !model.has(k), `remove ${k}`);
      model.delete(k);
    } else if (r === 99 && hash.deleted > 1000) {
      hash.dropDeleted();
      order = order.filter((x) => model.has(x));
    }
    mostChunks = Math.max(mostChunks, hash.chunks.length);
    if (step % 4999 === 0 || step === 39999) {
      assert.equal(hash.size, model.size);
      for (const [k, v] of model) {
        const kb = key(k);
        buf.set(kb);
        const n = hash.read(buf, 0, kb.length, 64, buf.length - 64);
        assert.equal(n, v.length, `length of ${k}`);
        assert.deepEqual(buf.subarray(64, 64 + n), v, `value of ${k}`);
      }
      assert.equal(page(hash), expectedPage(order, model), 'entries in insertion order');
      if (hash.index !== null) {
        assert.equal(hash.index.filter((cell) => cell !== 0).length, hash.slotCount, 'one index cell per slot');
      }
    }
  }
  assert.ok(mostChunks > 3, `the arena grew past its first chunk (${mostChunks} chunks)`);
});

test('a hash part compacts instead of growing once half of it is garbage', () => {
  const hash = new HashPart();
  const k = key('k');
  for (let i = 0; i < 3000; i++) {
    const v = value(1000 + i, i);
    hash.put(k, 0, k.length, v, 0, v.length);
  }
  assert.equal(hash.size, 1);
  assert.ok(hash.used - hash.waste < 8192, 'only the last value is live');
  assert.ok(hash.chunks.length <= 2, `kept small (${hash.chunks.length} chunks)`);
  const out = new Uint8Array(8192);
  out.set(k);
  assert.equal(hash.read(out, 0, k.length, 64, 8000), 5 + 3999);
  assert.equal(out[64 + 5], 2999 & 0xff);
});

test('a growing index holds one cell per key', () => {
  const hash = new HashPart();
  for (let i = 0; i < 5000; i++) {
    const k = key(`k${i}`);
    const v = value(1, i);
    hash.put(k, 0, k.length, v, 0, v.length);
    if (hash.index !== null) assert.equal(hash.index.filter((cell) => cell !== 0).length, hash.slotCount, `after ${i + 1} keys`);
  }
});
