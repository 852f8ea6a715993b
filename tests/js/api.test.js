// LuaEngine and the seed's module functions, against the real module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { LuaEngine, LuaError, LuaLimitError, AbiError, LuaTableRef } from '../../host-js/lua-api.js';
import { ROOT, WASM_PATH, wasmModule, tempDir } from './helpers.js';

/** An engine closed when the test ends (Node 20 has no `using`). */
async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

const run = promisify(execFile);

test('the seed test commands print Result: 123 and Restored: persistent', async (t) => {
  const cwd = await tempDir(t);
  const api = pathToFileURL(`${ROOT}/host-js/lua-api.js`).href;
  const first = `import('${api}').then(async (lua) => {
    await lua.loadLuaWasm();
    lua.init();
    await lua.compute('_home.test = 123');
    const r = await lua.compute('return _home.test');
    console.log('Result:', r);
  });`;
  const second = `import('${api}').then(async (lua) => {
    await lua.loadLuaWasm();
    lua.init();
    await lua.compute('_home.data = "persistent"');
    await lua.saveState();
    lua.init();
    await lua.loadState();
    const r = await lua.compute('return _home.data');
    console.log('Restored:', r);
  });`;
  assert.equal((await run(process.execPath, ['-e', first], { cwd })).stdout, 'Result: 123\n');
  assert.equal((await run(process.execPath, ['-e', second], { cwd })).stdout, 'Restored: persistent\n');
  // The default Node store is .state in the current directory, so a new process sees it.
  const third = `import('${api}').then(async (lua) => {
    await lua.loadLuaWasm(); await lua.loadState();
    console.log(String(await lua.compute('return _home.data')));
  });`;
  assert.equal((await run(process.execPath, ['-e', third], { cwd })).stdout, 'persistent\n');
});

test('compute returns every value, decoded, and the print output', async (t) => {
  const lua = await engine(t);
  const r = await lua.compute('print("a", 1) print("b\\0c") return 1, 2.5, "x", nil, true, {1, 2}, {k = "v"}');
  assert.deepEqual([...r], [1, 2.5, 'x', null, true, [1, 2], new Map([['k', 'v']])]);
  assert.equal(r.output, 'a\t1\nb\0c\n');
  assert.deepEqual([...r.outputBytes.slice(-4)], [0x62, 0, 0x63, 10]);
  assert.equal(String(r), '1\t2.5\tx\tnil\ttrue\ttable\ttable');
  assert.equal(inspect(await lua.compute('return "persistent"')), 'persistent');
  const s = lua.computeSync('_home.t = {} return _home.t, 2^53 + 1 == math.tointeger(2^53) + 1');
  assert.ok(s[0] instanceof LuaTableRef);
  assert.equal(lua.computeSync('return math.maxinteger')[0], 9223372036854775807n);
});

test('output streams to onOutput as it is flushed', async (t) => {
  const chunks = [];
  const lua = await engine(t, { onOutput: (b) => chunks.push(b) });
  await lua.compute('for i = 1, 3 do print(i) end');
  assert.equal(Buffer.concat(chunks).toString(), '1\n2\n3\n');
});

test('Lua errors are LuaError with chunk and line', async (t) => {
  const lua = await engine(t);
  await assert.rejects(lua.compute('local x = 1\nerror("boom")'), (e) => {
    assert.ok(e instanceof LuaError);
    assert.equal(e.kind, 'runtime');
    assert.equal(e.chunk, 'input');
    assert.equal(e.line, 2);
    assert.match(e.message, /^input:2: boom$/);
    assert.match(e.traceback, /^stack traceback:\n/);
    return true;
  });
  // Errors raised by the VM itself carry their line and lua5.4's wording too.
  await assert.rejects(lua.compute('local t\n\nreturn t.x'), (e) => {
    assert.ok(e instanceof LuaError);
    assert.equal(e.line, 3);
    assert.equal(e.message, "input:3: attempt to index a nil value (local 't')");
    return true;
  });
  await assert.rejects(lua.compute('x = 1\n\nx = = 2', { chunkName: '@script.lua' }), (e) => {
    assert.ok(e instanceof LuaError);
    assert.equal(e.kind, 'syntax');
    assert.equal(e.chunk, 'script.lua');
    assert.equal(e.line, 3);
    return true;
  });
  // Error values that are not strings read as lua5.4 prints them.
  for (const [code, message, traceback] of [
    ["error(setmetatable({}, {__tostring = function() return 'described' end}))", 'described', false],
    ['error(42)', '42', true],
    ['error({})', '(error object is a table value)', true],
    ['error()', '(error object is a nil value)', true],
  ]) {
    await assert.rejects(lua.compute(code), (e) => {
      assert.ok(e instanceof LuaError && e.kind === 'runtime', code);
      assert.deepEqual([e.message, e.traceback !== '', e.line], [message, traceback, null], code);
      return true;
    });
  }
  // Output printed before the error is kept on the error.
  assert.throws(() => lua.computeSync('print("before") error("after")'), (e) => e.output === 'before\n');
  // The state is usable after errors.
  assert.equal((await lua.compute('return 7'))[0], 7);
});

test('instruction and heap limits end a run with LuaLimitError; the engine stays usable', async (t) => {
  const lua = await engine(t, { instructionLimit: 100000, memoryLimit: 8 * 1024 * 1024 });
  await assert.rejects(lua.compute('while true do end'), (e) => e instanceof LuaLimitError && e.kind === 'instruction-limit');
  assert.throws(() => lua.computeSync('while true do end'), (e) => e instanceof LuaLimitError && e.kind === 'instruction-limit');
  assert.throws(() => lua.computeSync('local t = {} for i = 1, 1e6 do t[i] = {i} end'),
    (e) => e instanceof LuaLimitError && (e.kind === 'memory-limit' || e.kind === 'instruction-limit'));
  const big = await engine(t, { memoryLimit: 4 * 1024 * 1024 });
  assert.throws(() => big.computeSync('local t = {} for i = 1, 1e7 do t[i] = {i} end'),
    (e) => e instanceof LuaLimitError && e.kind === 'memory-limit');
  assert.equal(big.computeSync('return 1 + 1')[0], 2);
  assert.equal(lua.computeSync('return 1 + 1')[0], 2);
});

test('engines are independent', async (t) => {
  const a = await engine(t);
  const b = await engine(t);
  a.computeSync('_home.who = "a"; g = 1');
  b.computeSync('_home.who = "b"');
  assert.deepEqual([...a.computeSync('return _home.who, g')], ['a', 1]);
  assert.deepEqual([...b.computeSync('return _home.who, g')], ['b', null]);
  assert.notEqual(a.tables, b.tables);
});

test('close and Symbol.dispose end the engine; later calls throw AbiError', async (t) => {
  const lua = await LuaEngine.create({ wasm: wasmModule });
  lua.close();
  assert.ok(lua.closed);
  assert.throws(() => lua.computeSync('return 1'), AbiError);
  await assert.rejects(async () => lua.compute('return 1'), AbiError);
  const scoped = await LuaEngine.create({ wasm: wasmModule });
  scoped[Symbol.dispose]();
  assert.ok(scoped.closed);
});

test('a long async compute yields to the event loop between slices', async (t) => {
  const lua = await engine(t, { sliceMs: 2 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    const r = await lua.compute('local n = 0 for i = 1, 3e6 do n = n + i % 7 end return n');
    assert.equal(r[0], (() => { let n = 0; for (let i = 1; i <= 3e6; i++) n += i % 7; return n; })());
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, 'the interval never ran during the compute');
  // computeSync is refused while an async compute is in flight.
  const pending = lua.compute('local n = 0 for i = 1, 1e6 do n = n + 1 end return n');
  assert.throws(() => lua.computeSync('return 1'), AbiError);
  assert.equal((await pending)[0], 1e6);
});

test('an AbortSignal stops a sliced run', async (t) => {
  const lua = await engine(t, { sliceMs: 1 });
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(lua.compute('while true do end', { signal: ac.signal }), (e) => e.name === 'AbortError');
  assert.equal((await lua.compute('return 3'))[0], 3);
});

test('an abort takes effect within 50 ms whatever ran before', async (t) => {
  const lua = await engine(t);
  // Quick chunks and a long run must not leave huge slices behind (they once grew the
  // fuel fourfold per quick slice, and an abort then waited 40 s).
  for (let i = 0; i < 12; i++) assert.equal((await lua.compute('return 1'))[0], 1);
  await lua.compute('local n = 0 for i = 1, 3e6 do n = n + 1 end return n');
  for (let i = 0; i < 12; i++) await lua.compute('return 1');
  for (const code of ['while true do end', 'local t = {} while true do t[1] = #t end']) {
    const ac = new AbortController();
    // Measured in CPU time this process spent from the start, less the 30 ms until the abort
    // was due: a slice that blocks the event loop delays the timer and counts in full, while
    // other work on a loaded machine (which only stretches the wall clock) does not.
    const start = { wall: performance.now(), cpu: process.cpuUsage() };
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(lua.compute(code, { signal: ac.signal }), (e) => e.name === 'AbortError');
    const { user, system } = process.cpuUsage(start.cpu);
    const latency = (user + system) / 1000 - 30;
    const wall = performance.now() - start.wall - 30;
    assert.ok(latency < 50, `${code}: the abort took ${latency.toFixed(1)} ms of CPU after it was due (${wall.toFixed(1)} ms on the clock)`);
  }
  assert.equal((await lua.compute('return 3'))[0], 3);
});

test('the wasm comes from a Module, bytes, a Response, a URL or a path', async (t) => {
  const bytes = await readFile(WASM_PATH);
  const sources = [wasmModule, bytes, new Uint8Array(bytes).buffer, new Response(bytes),
    pathToFileURL(WASM_PATH), WASM_PATH, undefined];
  for (const wasm of sources) {
    const lua = await LuaEngine.create({ wasm });
    assert.equal(lua.computeSync('return 6 * 7')[0], 42);
    lua.close();
  }
  await assert.rejects(LuaEngine.create({ wasm: '/nonexistent/lua.wasm' }), (e) => e instanceof AbiError && /cannot read/.test(e.message));
});

test('_io carries structured input and output and is table 0', async (t) => {
  const lua = await engine(t);
  const r = await lua.compute(`
    local sum = 0
    for _, v in ipairs(_io.items) do sum = sum + v end
    _io.result = { sum = sum, name = string.upper(_io.name) }
    return _io == _io, type(_io)`, { io: { name: 'lua', items: [1, 2, 3] } });
  assert.deepEqual([...r], [true, 'table']);
  const io = lua.getIo();
  assert.deepEqual(io.get('result'), new Map([['sum', 6], ['name', 'LUA']]));
  assert.ok(lua.tables.tables.has(0));
  lua.setIo({});
  assert.equal(lua.computeSync('return _io.result')[0], null);
});

test('memoryStats reports linear memory next to external data', async (t) => {
  const lua = await engine(t);
  // 20 MB, well past the up to 4 MiB the module keeps free for its allocator.
  lua.computeSync('for i = 1, 20000 do _home[i] = string.rep("x", 1000) end');
  const s = lua.memoryStats();
  assert.ok(s.externalBytes > 20000 * 1000, `externalBytes ${s.externalBytes}`);
  assert.equal(s.externalEntries, 20000);
  assert.ok(s.linearMemoryBytes < s.externalBytes, 'data lives outside linear memory');
});
