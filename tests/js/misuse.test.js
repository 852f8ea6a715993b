// Scripts that misuse external tables or _home keep the session and the saved state working
// (issue 13, items 3 to 5), through the real module and host.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LuaEngine, MemoryStore, LuaError, LuaLimitError } from '../../host-js/lua-api.js';
import { wasmModule } from './helpers.js';

async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

test('#t on an external table always ends, and its host calls count against the instruction limit', async (t) => {
  const lua = await engine(t);
  const [a, b] = await lua.compute(`local t = ext.table() local k = 1
    while k > 0 do t[k] = true k = k * 2 end
    t[math.maxinteger] = true t[math.mininteger] = true
    return #t, #t`);
  assert.deepEqual([a, b], [2n ** 63n - 1n, 2n ** 63n - 1n]);
  const limited = await engine(t, { instructionLimit: 400_000 });
  const build = 'local t = {} for i = 1, 30000 do t[i] = true end ';
  const after = ' for i = 1, 100000 do end return 1';
  assert.deepEqual([...await limited.compute(`${build}${after}`)], [1]);
  await assert.rejects(limited.compute(`${build} _home.t = t ${after}`), LuaLimitError);
});

test('storing _G, _ENV or a library is refused; the session and the saved state keep working', async (t) => {
  const store = new MemoryStore();
  const lua = await engine(t, { store });
  await lua.compute('_home.keep = 1');
  await lua.save();
  for (const code of ['_home.g = _G', '_home.g = _ENV', '_home.s = string', '_home.m = math', '_home.e = ext', 'ext.table(os)']) {
    await assert.rejects(lua.compute(code), (e) => e instanceof LuaError && /cannot store the (globals table|library table '\w+') in an external table/.test(e.message), code);
    assert.deepEqual([...await lua.compute("return string.format('%d', _home.keep), math.abs(-2), type(print)")], ['1', 2, 'function'], code);
  }
  assert.equal(lua.unsaved, false, 'nothing was written');
  await lua.save();
  const again = await engine(t, { store });
  assert.deepEqual([...await again.compute('print("still here") return _home.keep')], [1]);
});

test('_home cannot be detached, and rawset writes the saved table', async (t) => {
  const store = new MemoryStore();
  const lua = await engine(t, { store });
  for (const code of ['_home = {}', '_home = nil', 'Memory = {}']) {
    await assert.rejects(lua.compute(code), (e) => e instanceof LuaError && /cannot assign to '(_home|Memory)': it is the persistent table/.test(e.message));
  }
  await lua.compute('_home = _home or {} _home.later = "saved" rawset(_home, "raw", 1) _home.raw = rawget(_home, "raw") + 1');
  await lua.save();
  const again = await engine(t, { store });
  assert.deepEqual([...await again.compute('return _home.later, _home.raw, rawget(_home, "later")')], ['saved', 2, 'saved']);
});

test('what debug.getmetatable gives for an external table is a copy: changing it changes no external table', async (t) => {
  const store = new MemoryStore();
  const lua = await engine(t, { store });
  const [same, protectedName] = await lua.compute(`
    _home.list = ext.table()
    local mt = debug.getmetatable(_home)
    local same = mt == debug.getmetatable(_home.list)
    for k in pairs(mt) do mt[k] = nil end
    mt.__index = function() return "hijacked" end
    mt.__newindex = function() end
    mt.__gc = function() error("finalized") end
    assert(not pcall(debug.setmetatable, _home, mt))
    assert(not pcall(setmetatable, _home.list, mt))
    return same, getmetatable(ext.table())`);
  assert.deepEqual([same, protectedName], [false, 'external table']);
  await lua.compute('_home.kept = 1 _home.list[1] = "a" collectgarbage()');
  assert.deepEqual([...await lua.compute('return _home.kept, _home.missing, #_home.list, getmetatable(_home)')],
    [1, null, 1, 'external table']);
  await lua.save();
  const again = await engine(t, { store });
  assert.deepEqual([...await again.compute('return _home.kept, _home.list[1]')], [1, 'a']);
});
