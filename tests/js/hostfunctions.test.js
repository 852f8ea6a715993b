// JS functions given to Lua (issue 12, item 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { LuaEngine, LuaError, LuaLimitError } from '../../host-js/lua-api.js';
import { wasmModule } from './helpers.js';

async function engine(t, options = {}) {
  const e = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => e.close());
  return e;
}

test('a JS function is a Lua function', async (t) => {
  const lua = await engine(t);
  await lua.global.set('add', (a, b) => a + b);
  assert.deepEqual([...await lua.compute('return add(1, 2), type(add), add == add')], [3, 'function', true]);
  // In a table, with tables and Lua functions as arguments and results.
  const seen = [];
  let kept;
  await lua.global.set('js', {
    log: (...args) => { seen.push(args); },
    pair: (x) => [x, x],
    nothing: () => undefined,
    keep: (f) => { kept = f; },
    reenter: async (f) => f(1),
  });
  const r = await lua.compute(`
    js.log(1, "two", {3})
    js.keep(function(x) return x * 10 end)
    local p = js.pair(5)
    return #p, p[2], select('#', js.nothing()), pcall(js.reenter, print)`);
  assert.deepEqual([...r], [2, 5, 0, false, 'a JS function called from Lua cannot call into its own engine']);
  assert.deepEqual(seen, [[1, 'two', [3]]]);
  // A Lua function handed to JS is called once the run is over.
  assert.deepEqual([...await kept(4)], [40]);
  // It comes back to JS as itself.
  const f = () => 1;
  await lua.global.set('f', f);
  assert.equal(await lua.global.get('f'), f);
});

test('a Promise is awaited without blocking the event loop', async (t) => {
  const lua = await engine(t);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  t.after(() => clearInterval(timer));
  await lua.global.set('sleep', (ms) => new Promise((resolve) => setTimeout(() => resolve(ms * 2), ms)));
  const r = await lua.compute(`
    local a = sleep(20)
    local co = coroutine.wrap(function() return sleep(5) end)
    print("after")
    return a, co()`);
  assert.deepEqual([...r], [40, 10]);
  assert.equal(r.output, 'after\n');
  // The timers behind `sleep` fired while Lua waited; so did the interval.
  assert.ok(ticks >= 1, `the event loop ran (${ticks} ticks)`);
});

test('a throw or a rejection is a Lua error pcall catches, with the JS message', async (t) => {
  const lua = await engine(t);
  await lua.global.set('boom', () => { throw new TypeError('sync failure'); });
  await lua.global.set('reject', async () => { throw new Error('async failure'); });
  await lua.global.set('rejectValue', () => Promise.reject('plain reason'));
  const r = await lua.compute(`
    local a, ea = pcall(boom)
    local b, eb = pcall(reject)
    local c, ec = pcall(rejectValue)
    return a, ea, b, eb, c, ec`);
  assert.deepEqual([...r], [false, 'sync failure', false, 'async failure', false, 'plain reason']);
  await assert.rejects(lua.compute('reject()'), (e) => e instanceof LuaError && /async failure/.test(e.message));
  // A value Lua cannot take is an error too.
  await lua.global.set('bad', () => Symbol('s'));
  assert.deepEqual([...await lua.compute('return pcall(bad)')], [false, 'cannot encode a symbol value']);
  assert.deepEqual([...await lua.compute('return 1')], [1]);
});

test('limits go on applying around host calls, and a Lua function calling JS works from JS', async (t) => {
  const lua = await engine(t, { instructionLimit: 200000 });
  await lua.global.set('tick', () => Promise.resolve(1));
  await assert.rejects(lua.compute('local n = 0 while true do n = n + tick() end'),
    (e) => e instanceof LuaLimitError && e.kind === 'instruction-limit');
  const [f] = await lua.compute('return function(x) return tick() + x end');
  assert.deepEqual([...await f(1)], [2]);
});

test('an abort while Lua waits for a JS promise rejects the run; the engine goes on', async (t) => {
  const lua = await engine(t);
  await lua.global.set('never', () => new Promise(() => {}));
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(lua.compute('never()', { signal: controller.signal }), (e) => e.name === 'AbortError');
  assert.deepEqual([...await lua.compute('return 1')], [1]);
});

test('computeSync cannot wait: the call fails in Lua', async (t) => {
  const lua = await engine(t);
  await lua.global.set('f', () => 1);
  assert.deepEqual([...lua.computeSync('return pcall(f)')],
    [false, 'host functions cannot be called from a synchronous run']);
});

test('closing the engine while a JS function is pending rejects the run', async (t) => {
  const lua = await engine(t);
  let release;
  await lua.global.set('wait', () => new Promise((resolve) => { release = resolve; }));
  const run = lua.compute('return wait()');
  while (!release) await new Promise((r) => setTimeout(r, 1));
  lua.close();
  release(1);
  await assert.rejects(run, /closed/);
});
