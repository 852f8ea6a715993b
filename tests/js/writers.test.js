// Several writers on one store, damaged stores, and stores that never answer (issue 13).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile, unlink, mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LuaEngine, MemoryStore, StoreError, AbiError } from '../../host-js/lua-api.js';
import { FileStore } from '../../host-js/stores/file.js';
import { wasmModule, tempDir, HOST } from './helpers.js';

async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

const stale = (e) => e instanceof StoreError && e.code === 'stale' && /another writer|another engine/.test(e.message);
const damaged = (what) => (e) => e instanceof StoreError && e.code === 'damaged' && what.test(e.message);

/** Every file of `dir` with a hash of its bytes: to check that nothing changed. */
async function listing(dir) {
  const out = {};
  for (const name of (await readdir(dir)).sort()) out[name] = createHash('sha256').update(await readFile(join(dir, name))).digest('hex');
  return out;
}

const stores = {
  memory: async () => { const s = new MemoryStore(); return () => s; },
  file: async (t) => { const dir = await tempDir(t); return () => new FileStore(dir, { fsync: false }); },
};

for (const [name, make] of Object.entries(stores)) {
  test(`${name} store: a save on a stale base is refused, keeps its changes, and ids never collide`, async (t) => {
    const open = await make(t);
    const a = await engine(t, { store: open() });
    const b = await engine(t, { store: open() });
    a.computeSync('_home.a = { owner = "A" }');
    await a.save();
    b.computeSync('_home.b = { owner = "B", secret = "only B" }');
    await assert.rejects(b.save(), stale);
    assert.equal(b.unsaved, true, 'B keeps its changes');
    assert.equal(b.computeSync('return _home.b.secret')[0], 'only B');
    // A goes on saving: the refused save wrote nothing.
    a.computeSync('_home.a.more = 1');
    await a.save();
    const reader = await engine(t, { store: open() });
    assert.deepEqual([...reader.computeSync('return _home.a.owner, _home.a.secret, _home.b, _home.a.more')], ['A', null, null, 1]);
    // B chooses: replace the stored state with its own whole state.
    await b.save({ overwrite: true });
    await reader.load();
    assert.deepEqual([...reader.computeSync('return _home.a, _home.b.owner, _home.b.secret')], [null, 'B', 'only B']);
    // A is now stale; loading takes B's state and saving works again.
    await assert.rejects(a.save(), stale);
    await a.load();
    a.computeSync('_home.c = { owner = "A again" }');
    await a.save();
    await reader.load();
    assert.deepEqual([...reader.computeSync('return _home.b.owner, _home.c.owner, _home.b ~= _home.c')], ['B', 'A again', true]);
  });
}

test('file store: saves in the order A, B, A never leave an unloadable state', async (t) => {
  const dir = await tempDir(t);
  const a = await engine(t, { store: new FileStore(dir) });
  const b = await engine(t, { store: new FileStore(dir) });
  for (let round = 0; round < 3; round++) {
    a.computeSync(`_home.a${round} = { owner = "A" }`);
    await a.save();
    b.computeSync(`_home.b${round} = { owner = "B" }`);
    await assert.rejects(b.save(), stale);
    await b.load();
    const check = await engine(t, { store: new FileStore(dir) });
    assert.equal(check.computeSync(`return _home.a${round}.owner`)[0], 'A');
  }
});

test('file store: concurrent saves of two stores in one process are serialised by the lock', async (t) => {
  const dir = await tempDir(t);
  const engines = [];
  for (let i = 0; i < 4; i++) engines.push(await engine(t, { store: new FileStore(dir, { fsync: false }) }));
  engines.forEach((e, i) => e.computeSync(`_home.w${i} = { owner = ${i} }`));
  const results = await Promise.allSettled(engines.map((e) => e.save()));
  const won = results.filter((r) => r.status === 'fulfilled').length;
  assert.equal(won, 1, 'all four started from the empty store: one save wins');
  for (const r of results) if (r.status === 'rejected') assert.ok(stale(r.reason), r.reason);
  const check = await engine(t, { store: new FileStore(dir) });
  const winner = results.findIndex((r) => r.status === 'fulfilled');
  assert.equal(check.computeSync(`return _home.w${winner}.owner`)[0], winner);
  assert.equal(await readdir(dir).then((n) => n.includes('LOCK')), false, 'the lock is released');
});

test('file store: a lock left by a dead process is broken; a live one makes the save wait, then fail', async (t) => {
  const dir = await tempDir(t);
  await mkdir(dir, { recursive: true });
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => dead.on('close', r));
  await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: dead.pid, host: hostname(), token: 'x' }));
  const lua = await engine(t, { store: new FileStore(dir, { fsync: false }) });
  lua.computeSync('_home.x = 1');
  await lua.save();
  // A live owner: this process, under another token.
  await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: process.pid, host: hostname(), token: 'other' }));
  const locked = await engine(t, { store: new FileStore(dir, { lockTimeout: 100 }), restore: false });
  locked.computeSync('_home.y = 2');
  await assert.rejects(locked.save(), (e) => e instanceof StoreError && e.code === 'locked' && e.message.includes(`process ${process.pid}`));
  await unlink(join(dir, 'LOCK'));
  await locked.save();
});

/** Runs the CLI; resolves to {code, stdout, stderr}. */
function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(HOST, 'cli.js'), ...args]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
  });
}

test('two CLI processes on one --state: the write made beside a long run is kept, the long run fails loudly', async (t) => {
  const dir = await tempDir(t);
  await cli(['--state', dir, '-e', '_home.base = 1']);
  const long = cli(['--state', dir, '-e', 'local t = os.clock() while os.clock() - t < 1.5 do end _home.long = { owner = "long" }']);
  await new Promise((r) => setTimeout(r, 500));
  const short = await cli(['--state', dir, '-e', '_home.short = { owner = "short" }']);
  assert.equal(short.code, 0, short.stderr);
  const l = await long;
  assert.equal(l.code, 1);
  assert.match(l.stderr, /^lua: not saved: another process saved .* while this one ran; this run's changes to _home are lost/);
  const check = await cli(['--state', dir, '-e', 'print(_home.base, _home.short.owner, _home.long)']);
  assert.equal(check.stdout, '1\tshort\tnil\n', check.stderr);
});

test('many CLI processes saving at once (breaking a dead process\'s lock together): every save wins or fails as stale, and the state loads', async (t) => {
  const dir = await tempDir(t);
  await cli(['--state', dir, '-e', '_home.n = 0']);
  const dead = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => dead.on('close', r));
  await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: dead.pid, host: hostname(), token: 'dead' }));
  const runs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => cli(['--state', dir, '-e', `_home.w${i} = { owner = ${i} }`])));
  for (const r of runs) if (r.code !== 0) assert.match(r.stderr, /not saved: another process saved/);
  const won = runs.map((r, i) => (r.code === 0 ? i : -1)).filter((i) => i >= 0);
  assert.ok(won.length >= 1);
  const check = await cli(['--state', dir, '-e', `for i = 0, 5 do local w = _home['w' .. i] if w then print(i, w.owner) end end`]);
  assert.equal(check.code, 0, check.stderr);
  assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('LOCK')), [], 'no lock is left behind');
  // Each table that survived belongs to the writer that made it.
  for (const line of check.stdout.trim().split('\n')) {
    const [i, owner] = line.split('\t');
    assert.equal(i, owner);
    assert.ok(won.includes(Number(i)));
  }
});

test('a MANIFEST deleted with segments present is a damaged store, left exactly as it was', async (t) => {
  const dir = await tempDir(t);
  const lua = await engine(t, { store: new FileStore(dir) });
  lua.computeSync('_home.v = "precious" _home.t = { 1, 2 }');
  await lua.save();
  lua.computeSync('_home.w = 2');
  await lua.save();
  await unlink(join(dir, 'MANIFEST'));
  const before = await listing(dir);
  await assert.rejects(LuaEngine.create({ wasm: wasmModule, store: new FileStore(dir) }), damaged(/MANIFEST is missing but seg-\d+\.log/));
  // restore: false must not overwrite what it could not read.
  const fresh = await engine(t, { store: new FileStore(dir), restore: false });
  fresh.computeSync('_home.v = "new"');
  await assert.rejects(fresh.save(), damaged(/MANIFEST is missing/));
  assert.deepEqual(await listing(dir), before, 'every file is as it was');
  await fresh.save({ overwrite: true });
  const check = await engine(t, { store: new FileStore(dir) });
  assert.equal(check.computeSync('return _home.v')[0], 'new');
});

test('restore: false never saves over a state it cannot read (a segment failing its checksum)', async (t) => {
  const dir = await tempDir(t);
  const lua = await engine(t, { store: new FileStore(dir) });
  lua.computeSync('_home.v = "precious"');
  await lua.save();
  const seg = (await readdir(dir)).find((n) => n.startsWith('seg-'));
  const bytes = await readFile(join(dir, seg));
  bytes[bytes.length - 1] ^= 0xff;
  await writeFile(join(dir, seg), bytes);
  const before = await listing(dir);
  const fresh = await engine(t, { store: new FileStore(dir), restore: false });
  fresh.computeSync('_home.v = "new"');
  await assert.rejects(fresh.save(), damaged(/fails its checksum/));
  await assert.rejects(fresh.save(), damaged(/fails its checksum/));
  assert.deepEqual(await listing(dir), before);
  await fresh.save({ overwrite: true });
  const check = await engine(t, { store: new FileStore(dir) });
  assert.equal(check.computeSync('return _home.v')[0], 'new');
});

test('restore: false replaces a readable state, and is then checked like any engine', async (t) => {
  const store = new MemoryStore();
  const a = await engine(t, { store });
  a.computeSync('_home.v = "old"');
  await a.save();
  const fresh = await engine(t, { store, restore: false });
  fresh.computeSync('_home.w = "fresh"');
  await fresh.save();
  const check = await engine(t, { store });
  assert.deepEqual([...check.computeSync('return _home.v, _home.w')], [null, 'fresh']);
  await assert.rejects(a.save(), stale);
});

test('a MANIFEST naming a path outside the directory is refused without reading it', async (t) => {
  const root = await tempDir(t);
  const dir = join(root, 'state');
  const lua = await engine(t, { store: new FileStore(dir) });
  lua.computeSync('_home.v = 1');
  await lua.save();
  const manifest = JSON.parse(await readFile(join(dir, 'MANIFEST'), 'utf8'));
  // A file that would pass every check if it were read.
  const seg = manifest.segments[0];
  await writeFile(join(root, 'outside.log'), await readFile(join(dir, seg.file)));
  for (const file of ['../../etc/passwd', '../outside.log', '/etc/passwd', 'seg-1.log/../../outside.log']) {
    manifest.segments[0] = { ...seg, file };
    await writeFile(join(dir, 'MANIFEST'), JSON.stringify(manifest));
    const before = await listing(dir);
    await assert.rejects(LuaEngine.create({ wasm: wasmModule, store: new FileStore(dir) }),
      damaged(new RegExp(`MANIFEST names ${JSON.stringify(file).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, which is not a segment file`)));
    const other = await engine(t, { store: new FileStore(dir), restore: false });
    await assert.rejects(other.save(), damaged(/not a segment file/));
    assert.deepEqual(await listing(dir), before);
  }
});

test('a store whose save never settles times out; the changes stay for the next save', async (t) => {
  const inner = new MemoryStore();
  let hang = false;
  const store = {
    timeout: 50,
    describe: () => 'the test store',
    load: () => inner.load(),
    save: (batch) => (hang ? new Promise(() => {}) : inner.save(batch)),
  };
  const lua = await engine(t, { store });
  lua.computeSync('_home.a = 1');
  hang = true;
  await assert.rejects(lua.save(), (e) => e instanceof StoreError && e.code === 'timeout' && /the test store did not finish within/.test(e.message));
  assert.equal(lua.unsaved, true);
  // The engine is usable, and the next save sends the changes again.
  assert.equal(lua.computeSync('return _home.a')[0], 1);
  hang = false;
  await lua.save();
  assert.equal(lua.unsaved, false);
  const again = await engine(t, { store: inner });
  assert.equal(again.computeSync('return _home.a')[0], 1);
});

test('close() rejects a save that never settles and the calls queued behind it', async (t) => {
  const store = { load: async () => null, save: () => new Promise(() => {}) };
  const lua = await LuaEngine.create({ wasm: wasmModule, store });
  lua.computeSync('_home.a = 1');
  const saving = lua.save();
  const queued = lua.compute('return 1');
  lua.close();
  await assert.rejects(saving, (e) => e instanceof AbiError && /closed before this call finished/.test(e.message));
  await assert.rejects(queued, AbiError);
  assert.throws(() => lua.computeSync('return 1'), AbiError);
});

test('close() during a long compute rejects it', async (t) => {
  const lua = await LuaEngine.create({ wasm: wasmModule });
  const running = lua.compute('while true do end');
  await new Promise((r) => setTimeout(r, 30));
  lua.close();
  await assert.rejects(running, AbiError);
});

test('the file store timeout is off by default', () => {
  assert.equal(new FileStore('/nonexistent').timeout, 0);
});
