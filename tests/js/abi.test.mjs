// ABI v1 against the real dist/lua.wasm: imports, exports, limits, chunking, bad bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Abi, Status, compileModule } from '../../host-js/abi.js';
import { decodeResults, decodeMessage, encodeKey, encodeValue } from '../../host-js/codec.js';

const module = await compileModule(readFileSync(new URL('../../dist/lua.wasm', import.meta.url)));

async function fresh(options = {}) {
  const abi = await Abi.instantiate(module, options);
  assert.equal(abi.exports.init(), 0);
  return abi;
}

function run(abi, code) {
  const { status, payload } = abi.compute(code);
  if (status < 0) return { error: -status, message: decodeMessage(payload) };
  return decodeResults(payload);
}

test('the import section holds only env.js_* functions', () => {
  const imports = WebAssembly.Module.imports(module);
  assert.ok(imports.length > 0);
  for (const i of imports) {
    assert.equal(i.module, 'env', JSON.stringify(i));
    assert.match(i.name, /^js_/, JSON.stringify(i));
    assert.equal(i.kind, 'function');
  }
});

test('every ABI v1 export is present', () => {
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const name of [
    'memory', 'init', 'abi_version', 'get_buffer_ptr', 'get_buffer_size', 'compute',
    'input_reset', 'input_append', 'compute_input', 'start_input', 'resume', 'result_read',
    'set_chunk_name', 'set_instruction_limit', 'set_memory_limit', 'get_last_error',
    'ext_table_new', 'ext_table_set', 'ext_table_get', 'ext_table_delete', 'ext_table_size',
    'ext_table_keys', 'get_memory_table_id', 'get_io_table_id', 'attach_memory_table',
    'sync_external_table_counter', 'get_external_table_counter', 'get_memory_stats', 'run_gc',
  ]) assert.ok(names.has(name), `missing export ${name}`);
});

test('a million _home writes keep linear memory within 64 pages', async () => {
  const abi = await fresh();
  assert.deepEqual(run(abi, "for i=1,1e6 do _home['user_'..i]='data_'..i end"), []);
  assert.equal(abi.exports.ext_table_size(abi.exports.get_memory_table_id()), 1_000_000);
  const stats = abi.memoryStats();
  assert.ok(stats.wasmPages <= 64, `${stats.wasmPages} pages`);
  assert.deepEqual(run(abi, 'local n = 0 for k, v in pairs(_home) do n = n + 1 end return n'), [1_000_000]);
  assert.ok(abi.memoryStats().wasmPages <= 64, 'iteration pages keys instead of copying them');
  assert.deepEqual(run(abi, "return _home.user_777777"), ['data_777777']);
});

test('a garbage-heavy loop stays under 32 MiB of linear memory', async () => {
  const abi = await fresh();
  assert.deepEqual(run(abi, "local s='' for i=1,1e5 do s=s..'x' end return #s"), [100000]);
  assert.ok(abi.memoryStats().wasmPages <= 512, `${abi.memoryStats().wasmPages} pages`);
});

test('a 10 MB string round-trips through an external table', async () => {
  const abi = await fresh();
  const got = run(abi, `
    local s = string.rep('\\0\\255abc', 2 * 1024 * 1024)
    _home.big = s
    return #_home.big, _home.big == s, ext.size(_home)`);
  assert.deepEqual(got, [10 * 1024 * 1024, true, 1]);
  const stored = abi.tables.get(1, encodeKey('big'));
  assert.equal(stored.length, 1 + 4 + 10 * 1024 * 1024);
});

test('chunks and results larger than the IO buffer move in pieces', async () => {
  const abi = await fresh();
  const lines = ['local t = {}'];
  for (let i = 0; i < 5000; i++) lines.push(`t[${i}] = ${i} -- padding padding padding`);
  const code = lines.join('\n') + "\nreturn string.rep('x', 200000), #t";
  assert.ok(code.length > 65536);
  const [big, count] = run(abi, code);
  assert.equal(big.length, 200000);
  assert.equal(count, 4999);
});

test('errors come back with kind, chunk and line, and the instance goes on', async () => {
  const abi = await fresh();
  // The message, then lua5.4's traceback on the lines after it.
  const boom = run(abi, 'local a = 1\nerror("boom")');
  assert.equal(boom.error, 2);
  assert.equal(boom.message, "input:2: boom\nstack traceback:\n\t[C]: in function 'error'\n\tinput:2: in main chunk\n\t[C]: in ?");
  assert.equal(run(abi, 'return = 1').error, 1);
  assert.equal(run(abi, `return ${'('.repeat(1000)}1${')'.repeat(1000)}`).error, 1);
  abi.setChunkName('@script.lua');
  assert.match(run(abi, 'error("x")').message, /^script\.lua:1: x\nstack traceback:\n/);
  assert.deepEqual(run(abi, 'return pcall(error, {})')[0], false);
  assert.deepEqual(run(abi, 'return 40 + 2'), [42]);
});

test('instruction and memory limits are typed errors that leave the instance usable', async () => {
  const abi = await fresh();
  assert.equal(abi.exports.set_instruction_limit(1e6), 0);
  assert.equal(run(abi, 'while true do end').error, 3);
  assert.deepEqual(run(abi, 'return 1'), [1]);
  assert.equal(abi.exports.set_instruction_limit(0), 0);
  assert.equal(abi.exports.set_memory_limit(16 * 1024 * 1024), 0);
  assert.equal(run(abi, 'local t = {} for i = 1, 1e8 do t[i] = i end').error, 4);
  assert.deepEqual(run(abi, 'return "ok"'), ['ok']);
  assert.equal(abi.exports.set_memory_limit(1000), Status.BAD_INPUT);
});

test('resume runs a chunk in slices', async () => {
  const abi = await fresh();
  assert.equal(abi.start('local n = 0 for i = 1, 1e6 do n = n + 1 end return n'), null);
  let slices = 0;
  let outcome;
  while (!(outcome = abi.resume(10_000))) slices++;
  assert.ok(slices > 10);
  assert.deepEqual(decodeResults(outcome.payload), [1_000_000]);
});

test('print is streamed to the host', async () => {
  const chunks = [];
  const abi = await fresh({ output: (b) => chunks.push(Buffer.from(b)) });
  run(abi, 'for i = 1, 3 do print(i, "\\0z") end');
  assert.deepEqual(Buffer.concat(chunks), Buffer.from('1\t\0z\n2\t\0z\n3\t\0z\n'));
});

test('ext_table_* exports validate every byte and id', async () => {
  const abi = await fresh();
  const home = abi.exports.get_memory_table_id();
  abi.tableSet(home, encodeKey('k'), encodeValue(5));
  assert.deepEqual(run(abi, 'return _home.k'), [5]);
  assert.deepEqual(abi.tableGet(home, encodeKey('k')), encodeValue(5));
  const bad = (fn) => assert.throws(fn, { name: 'AbiError' });
  bad(() => abi.tableSet(home, Uint8Array.of(0x04, 9, 0, 0, 0, 0x61), encodeValue(1))); // truncated key
  bad(() => abi.tableSet(home, encodeKey('k'), Uint8Array.of(0x2a))); // unknown tag
  bad(() => abi.tableSet(home, encodeKey('k'), Uint8Array.of(0x03, 1, 2))); // truncated float
  bad(() => abi.tableSet(home, Uint8Array.of(0x00), encodeValue(1))); // nil key
  bad(() => abi.tableSet(999, encodeKey('k'), encodeValue(1))); // never allocated
  bad(() => abi.tableSet(home, encodeKey('k'), Uint8Array.of(0x07, 200, 0, 0, 0))); // ref to nothing
  bad(() => abi.tableGet(12345, encodeKey('k')));
  // Pointers outside the IO buffer are refused, not dereferenced.
  assert.equal(abi.exports.ext_table_set(home, 0, 1, 0, 1), Status.BAD_INPUT);
  assert.equal(abi.exports.compute(abi.bufferPtr + abi.bufferSize - 2, 100), Status.BAD_INPUT);
  assert.equal(abi.exports.get_memory_stats(7), Status.BAD_INPUT);
  assert.equal(abi.exports.ext_table_size(4242), Status.BAD_INPUT);
  assert.deepEqual(run(abi, 'return _home.k'), [5], 'nothing changed');
  const id = abi.exports.ext_table_new();
  assert.equal(abi.tableSize(id), 0);
  assert.equal(abi.exports.get_external_table_counter(), id + 1);
});

test('damaged bytes in host storage surface as kind 5, not a trap', async () => {
  const abi = await fresh();
  const home = abi.exports.get_memory_table_id();
  const damaged = [
    Uint8Array.of(0x04, 0xff, 0xff, 0xff, 0xff), Uint8Array.of(0x77), Uint8Array.of(0x02, 1),
    Uint8Array.of(0x07, 9, 9, 9, 9), Uint8Array.of(0x08, 0, 0, 0, 0), Uint8Array.of(),
  ];
  for (const value of damaged) {
    abi.tables.set(home, encodeKey('x'), value);
    assert.equal(run(abi, 'return _home.x').error, 5, `value ${[...value]}`);
    assert.equal(run(abi, 'for k, v in pairs(_home) do end').error, 5, `page ${[...value]}`);
    assert.deepEqual(run(abi, 'return 1'), [1]);
  }
});

test('randomized garbage in host storage never traps', async () => {
  const abi = await fresh();
  const home = abi.exports.get_memory_table_id();
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; };
  for (let i = 0; i < 2000; i++) {
    const value = Uint8Array.from({ length: rand() % 12 }, (_, j) => (j === 0 ? rand() % 10 : rand() & 255));
    abi.tables.set(home, encodeKey('x'), value);
    const r = run(abi, 'local v = _home.x for k in pairs(_home) do end return type(v)');
    assert.ok(Array.isArray(r) || r.error === 5, JSON.stringify(r));
  }
  assert.deepEqual(run(abi, 'return 2'), [2]);
});

test('attach_memory_table and the counter support a restore', async () => {
  const abi = await fresh();
  run(abi, '_home.a = {x = 1}');
  const saved = { home: abi.exports.get_memory_table_id(), next: abi.exports.get_external_table_counter() };
  const tables = abi.tables;
  const again = await Abi.instantiate(module, { tables });
  again.exports.init();
  again.exports.sync_external_table_counter(saved.next);
  assert.equal(again.exports.attach_memory_table(saved.home), 0);
  assert.deepEqual(run(again, 'return _home.a.x, Memory == _home'), [1, true]);
  assert.ok(again.exports.ext_table_new() >= saved.next);
});
