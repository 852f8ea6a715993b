// Limits that hold inside library calls (issue 14): work inside one library call counts
// against the instruction limit and pauses for aborts; sizes are checked before use.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LuaEngine, LuaLimitError } from '../../host-js/lua-api.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { wasmModule, ROOT } from './helpers.js';
import { PAST_THE_CAP } from './fixtures/past-the-cap.js';

/** An engine closed when the test ends. */
async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

/** Library calls that ran for seconds inside one native call before. */
export const LONG_LIBRARY_CALLS = {
  find: 'return string.find(string.rep("a", 26), string.rep("a?", 26) .. string.rep("a", 26))',
  match: 'return string.match(string.rep("a", 26), string.rep("a?", 26) .. string.rep("a", 26))',
  gsub: 'return string.gsub(string.rep("a", 26), string.rep("a?", 26) .. string.rep("a", 26), "")',
  gmatch: 'for m in string.gmatch(string.rep("a", 26), string.rep("a?", 26) .. string.rep("a", 26)) do end',
  sort: 'local t = {string.byte(string.rep("\\3\\1\\2\\5\\4", 1e5), 1, -1)} table.sort(t) table.sort(t, function(a, b) return a > b end) return t[1]',
};

/** CPU milliseconds from `start` (a process.cpuUsage()) to now. */
function cpuMs(start) {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1000;
}

test('the instruction limit stops a backtracking pattern inside string.find', async (t) => {
  const lua = await engine(t, { instructionLimit: 1e6 });
  for (const [name, code] of Object.entries(LONG_LIBRARY_CALLS)) {
    const start = process.cpuUsage();
    assert.throws(() => lua.computeSync(code), (e) => {
      assert.ok(e instanceof LuaLimitError, `${name}: ${e.name}: ${e.message}`);
      assert.match(e.message, /instruction limit exceeded/);
      return true;
    });
    assert.ok(cpuMs(start) < 2000, `${name}: the limit took ${cpuMs(start).toFixed(0)} ms`);
    await assert.rejects(lua.compute(code), LuaLimitError, name);
  }
  assert.equal((await lua.compute('return string.find("xaab", "a+b")'))[0], 2);
});

test('an abort lands within 50 ms inside a long library call', async (t) => {
  const lua = await engine(t);
  for (const [name, code] of Object.entries(LONG_LIBRARY_CALLS)) {
    const ac = new AbortController();
    // CPU time after the abort was due, as in api.test.js: a slice that blocks the event
    // loop delays the timer and counts in full.
    const start = process.cpuUsage();
    setTimeout(() => ac.abort(), 30);
    await assert.rejects(lua.compute(code, { signal: ac.signal }), (e) => e.name === 'AbortError', name);
    const latency = cpuMs(start) - 30;
    assert.ok(latency < 50, `${name}: the abort took ${latency.toFixed(1)} ms of CPU after it was due`);
  }
  assert.equal((await lua.compute('return 3'))[0], 3);
});

test('the event loop runs while a pattern backtracks', async (t) => {
  const lua = await engine(t, { sliceMs: 2, instructionLimit: 2e7 });
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await assert.rejects(lua.compute(LONG_LIBRARY_CALLS.find), LuaLimitError);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks > 0, 'the interval never ran during the compute');
});

test('paused library calls finish with the results lua5.4 gives', async (t) => {
  const lua = await engine(t, { sliceMs: 1 });
  const r = await lua.compute(`
    local s = string.rep("a", 18)
    local p = string.rep("a?", 18) .. string.rep("a", 18)
    local n = 0
    for w in string.gmatch(string.rep("ab", 2e4), "(a)(b)") do n = n + 1 end
    local g, k = string.gsub(string.rep("xy", 3e4), "(x)(y)", "%2%1")
    local t = {} for i = 1, 5e4 do t[i] = (i * 7919) % 5e4 end
    table.sort(t, function(a, b) return a > b end)
    return string.find(s, p), string.match(s .. "b", "(a-)b"), n, #g, k, g:sub(1, 4), t[1], t[5e4]`);
  assert.deepEqual([...r], [1, 'a'.repeat(18), 2e4, 6e4, 3e4, 'yxyx', 49999, 0]);
});

const MiB = 1024 * 1024;


test('the heap cap holds at allocation time: big strings are pcall-able memory errors, no trap', async (t) => {
  const lua = await engine(t, { memoryLimit: 16 * MiB });
  const cases = PAST_THE_CAP;
  for (const code of cases) {
    assert.deepEqual([...await lua.compute(`return pcall(function() ${code} end)`)], [false, 'not enough memory'], code);
    assert.throws(() => lua.computeSync(code), (e) => {
      assert.ok(e instanceof LuaLimitError, `${code}: ${e.name}: ${e.message}`);
      assert.match(e.message, /^not enough memory \(\d+\.\d MiB live after a full collection; limit 16\.0 MiB\)/);
      return true;
    });
    // Linear memory stays within the cap and the margin README states (16 MiB + 20 MiB).
    const linear = lua.memoryStats().linearMemoryBytes;
    assert.ok(linear <= 36 * MiB, `${code}: ${linear / MiB} MiB of linear memory`);
    assert.equal((await lua.compute('return 1 + 1'))[0], 2, code);
  }
});

test('a memoryLimit past 4 GiB is lowered to 2 GiB, which leaves the allocator room below wasm32\'s 4 GiB', async (t) => {
  const lua = await engine(t, { memoryLimit: 2 ** 33 });
  assert.equal(lua.memoryStats().luaHeapLimit, 2048 * MiB);
});

test('where wasm memory stops growing below the cap, growth is a memory error, not a trap', () => {
  // V8's --wasm-max-mem-pages stands for a browser's or machine's ceiling: 64 MiB here,
  // under a 2 GiB cap, so that only the module's questions to its allocator stop a script.
  const cases = [
    ...PAST_THE_CAP.slice(5),
    'local t = {} for i = 1, 1e8 do t[i] = {} end',
    'local t = {} for i = 1, 1e8 do t[i] = function() return i end end',
    'local s = string.rep("x", 2^24) local t = {} for i = 1, 100 do t[i] = s:sub(2) end',
    'local s = string.rep("x", 2^24) local t = {} for i = 1, 100 do t[i] = s:upper() end',
  ];
  const out = execFileSync(process.execPath, ['--wasm-max-mem-pages=1024', join(ROOT, 'tests/js/fixtures/ceiling.mjs'), JSON.stringify(cases)],
    { encoding: 'utf8' });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, cases.length);
  for (const { code, result, linear, after } of lines) {
    assert.deepEqual(result, [false, 'not enough memory'], code);
    assert.ok(linear <= 64 * MiB, `${code}: ${linear / MiB} MiB`);
    assert.equal(after, 2, code);
  }
});

test('after a memory error the heap is collected and the live data is named', async (t) => {
  const lua = await engine(t, { memoryLimit: 16 * MiB });
  await lua.compute('keep = string.rep("k", 5e6)');
  await assert.rejects(lua.compute('local t = {} for i = 1, 1e8 do t[i] = i end'), (e) => {
    assert.ok(e instanceof LuaLimitError);
    assert.match(e.message, /^not enough memory \(4\.\d MiB live after a full collection; limit 16\.0 MiB\)/);
    return true;
  });
  assert.ok(lua.memoryStats().luaHeapBytes < 6 * MiB, `${lua.memoryStats().luaHeapBytes} bytes live`);
  assert.deepEqual([...await lua.compute('return #keep')], [5e6]);
});

test('sizes are checked before use, with lua5.4 messages', async (t) => {
  const lua = await engine(t);
  // Expected values printed by lua5.4 (Debian 5.4.6), with memory capped where it allocates.
  const cases = [
    ['pcall(string.rep, "x", 2^32 + 1)', [false, 'resulting string too large']],
    ['pcall(string.rep, "x", 2^40)', [false, 'resulting string too large']],
    ['pcall(string.pack, "c1000000000", "")', [false, 'not enough memory']],
    ['pcall(string.rep, "x", 1e9, ",")', [false, 'not enough memory']],
    ['string.sub("hello", 2^32 + 2), string.sub("hello", 2, 2^32 + 1), string.sub("hello", -2^32, 2)', ['', 'ello', 'he']],
    ['string.byte("hello", 2^32 + 1), string.byte("hello", -2^32, 2)', [null, 104, 101]],
    ['string.find("hello", "l", 2^32 + 1), string.find("hello", "l", -2^32)', [null, 3, 3]],
    ['string.match("hello", "l+", 2^32), string.match("hello", ".", -2^40)', [null, 'h']],
    ['string.find("hello", "", 2^32), string.find("hello", "", 6)', [null, 6, 5]],
    ['pcall(string.sub, "hello", 2^63)', [false, "bad argument #2 to 'string.sub' (number has no integer representation)"]],
    ['pcall(string.pack, "i17", 1)', [false, 'integral size (17) out of limits [1,16]']],
    ['pcall(string.unpack, "c1000000000", "x")', [false, "bad argument #2 to 'string.unpack' (data string too short)"]],
    ['pcall(string.packsize, "c1000000000c1000000000c1000000000")', [false, "bad argument #1 to 'string.packsize' (format result too large)"]],
  ];
  for (const [expr, expected] of cases) {
    assert.deepEqual([...await lua.compute(`return ${expr}`)], expected, expr);
  }
});

test('deep structures compile or fail as lua5.4 does; recursion is a stack overflow', async (t) => {
  const lua = await engine(t);
  const loads = [
    ["'return ' .. string.rep('a.', 1500) .. 'b'", 'function'],
    ["'return ' .. string.rep('a.', 5000) .. 'b'", 'function'],
    ["'return a' .. string.rep(':b()', 1000)", 'function'],
    ["'return a' .. string.rep(':b()', 5000)", 'function'],
    ["'return ' .. string.rep('{', 190) .. string.rep('}', 190)", 'function'],
    ["'return ' .. string.rep('-', 300) .. '1'", 'function'],
  ];
  for (const [chunk, expected] of loads) {
    assert.deepEqual([...await lua.compute(`local f, e = load(${chunk}) return type(f), e`)], [expected, null], chunk);
  }
  for (const chunk of [
    "'return ' .. string.rep('{', 300) .. string.rep('}', 300)",
    "'return ' .. string.rep('(', 300) .. '1' .. string.rep(')', 300)",
    "'return ' .. string.rep('a .. ', 300) .. 'a'",
    "string.rep('do ', 300) .. string.rep('end ', 300)",
    "'x = ' .. string.rep('f(', 300) .. string.rep(')', 300)",
  ]) {
    const [f, e] = await lua.compute(`return load(${chunk})`);
    assert.equal(f, null, chunk);
    assert.match(e, /C stack overflow|chunk has too many syntax levels/, chunk);
  }
  const [ok, e] = await lua.compute('return pcall(function() local function f(n) return 1 + f(n + 1) end return f(1) end)');
  assert.equal(ok, false);
  assert.match(e, /stack overflow$/);
});
