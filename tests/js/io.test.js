// io, os.exit, os.getenv and require through LuaEngine: the host's streams, callbacks, real
// files only with `fs: true`, and modules registered from JS.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LuaEngine, LuaError, LuaExit } from '../../host-js/lua-api.js';
import { wasmModule, tempDir } from './helpers.js';

async function engine(t, options = {}) {
  const lua = await LuaEngine.create({ wasm: wasmModule, ...options });
  t.after(() => lua.close());
  return lua;
}

test('io.write and io.stdout go where print goes; io.stderr and warnings to onStderr', async (t) => {
  const out = [];
  const err = [];
  const lua = await engine(t, { onOutput: (b) => out.push(Buffer.from(b)), onStderr: (b) => err.push(Buffer.from(b)) });
  const r = await lua.compute('io.write("a", 1, " ", 2.5) print("!") io.stdout:write("b\\n") io.stderr:write("e\\0") warn("@on") warn("w") return io.write() == io.stdout');
  assert.equal(r.output, 'a1 2.5!\nb\n');
  assert.equal(Buffer.concat(out).toString(), 'a1 2.5!\nb\n');
  assert.deepEqual(Buffer.concat(err), Buffer.from('e\0Lua warning: w\n'));
  assert.deepEqual([...r], [true]);
});

test('io.read, io.lines and io.stdin read what onInput gives, in any pieces, until it gives null', async (t) => {
  const pieces = ['12 0x10 3.5', 'e2 tail\nsecond line\n', new Uint8Array([0x62, 0xff, 0x0a]), 'x\ny\nlast', null];
  let calls = 0;
  const lua = await engine(t, { onInput: () => { calls++; return pieces.shift(); } });
  const r = await lua.compute(`
    local a, b, c = io.read("n", "n", "n")
    local rest, line = io.read("l", "L")
    local bytes = io.stdin:read(2)
    local t = {} for l in io.lines() do t[#t + 1] = l end
    return a, b, c, rest, line, bytes, table.concat(t, "|"), io.read("a"), io.read("l"), io.read(0)`);
  assert.deepEqual([...r], [12, 16, 350, ' tail', 'second line\n', new Uint8Array([0x62, 0xff]), '|x|y|last', '', null, null]);
  assert.ok(calls >= 5);
  // Another read asks again: a browser's input may have more by then.
  pieces.push('more\n');
  assert.deepEqual([...await lua.compute('return io.read()')], ['more']);
});

test('onInput may return a Promise: io.read, io.lines and io.stdin wait for it, the event loop runs', async (t) => {
  const pieces = ['12 0x1', '0 3.5', 'e2 tail\nsecond ', 'line\n', new Uint8Array([0x62, 0xff, 0x0a]), 'x\ny', '\nlast', null];
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  t.after(() => clearInterval(timer));
  const seen = [];
  const lua = await engine(t, {
    onInput: () => new Promise((resolve) => setTimeout(() => { seen.push(ticks); resolve(pieces.shift()); }, 5)),
  });
  const r = await lua.compute(`
    local a, b, c = io.read("n", "n", "n")
    local rest, line = io.read("l", "L")
    local bytes = io.stdin:read(2)
    local t = {} for l in io.lines() do t[#t + 1] = l end
    return a, b, c, rest, line, bytes, table.concat(t, "|"), io.read("a"), io.read("l"), io.read(0)`);
  assert.deepEqual([...r], [12, 16, 350, ' tail', 'second line\n', new Uint8Array([0x62, 0xff]), '|x|y|last', '', null, null]);
  assert.equal(pieces.length, 0);
  // Timers ran while the script waited for each piece.
  assert.ok(seen.length >= 8 && seen.at(-1) > seen[0], `ticks ${seen}`);
  // 'a' and counts across pieces; a synchronous answer may follow a Promise.
  const more = ['ab', 'cd', 'ef\n', 'rest ', 'of it'];
  const lua2 = await engine(t, { onInput: () => (more.length % 2 ? Promise.resolve(more.shift() ?? null) : more.shift() ?? null) });
  assert.deepEqual([...await lua2.compute('return io.read(3, "L", "a")')], ['abc', 'def\n', 'rest of it']);
  // Under a debug hook too.
  let calls = 0;
  const lua3 = await engine(t, { onInput: () => Promise.resolve(['7 8\n', null][calls++]) });
  assert.deepEqual([...await lua3.compute('local n = 0 debug.sethook(function() n = n + 1 end, "cr") local a, b = io.read("n", "n") debug.sethook() return a, b, n > 0')], [7, 8, true]);
});

test('onInput that rejects or throws is an io error the script sees; computeSync cannot wait', async (t) => {
  let answer = () => Promise.reject(new Error('no keyboard yet'));
  const lua = await engine(t, { onInput: () => answer() });
  const r = await lua.compute('local ok, v, message = pcall(io.read) return ok, v, message');
  assert.equal(r[0], true);
  assert.equal(r[1], null);
  assert.match(r[2], /no keyboard yet/);
  assert.match(String((await lua.compute('return select(2, pcall(function() for l in io.lines() do end end))'))[0]), /no keyboard yet/);
  answer = () => Promise.resolve('x');
  const [value, message] = lua.computeSync('return io.read()');
  assert.equal(value, null);
  assert.match(message, /onInput returned a Promise, which computeSync cannot wait for/);
  // The refused Promise is not kept: the next run asks again.
  answer = () => Promise.resolve('y\n');
  assert.deepEqual([...await lua.compute('return io.read()')], ['y']);
  answer = () => { throw new Error('no keyboard'); };
  assert.match(String((await lua.compute('return select(2, io.read())'))[0]), /no keyboard/);
});

test('an abort cuts a wait for onInput; the next run asks onInput again', async (t) => {
  let answer = () => new Promise(() => {});
  const lua = await engine(t, { onInput: () => answer() });
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 10);
  await assert.rejects(lua.compute('return io.read()', { signal: controller.signal }), (e) => e.name === 'AbortError');
  answer = () => Promise.resolve('after\n');
  assert.deepEqual([...await lua.compute('return io.read()')], ['after']);
});

test('os.exit ends the run with LuaExit and its status; the engine goes on', async (t) => {
  const lua = await engine(t);
  for (const [code, status] of [['os.exit(3)', 3], ['os.exit(false)', 1], ['os.exit(true, true)', 0], ['print("x") os.exit()', 0]]) {
    await assert.rejects(lua.compute(code), (e) => e instanceof LuaExit && e.code === status && e.name === 'LuaExit');
  }
  assert.throws(() => lua.computeSync('os.exit(5)'), (e) => e instanceof LuaExit && e.code === 5);
  assert.deepEqual([...await lua.compute('return 1')], [1]);
});

test('a chunk gets args as ...; os.getenv reads env', async (t) => {
  const lua = await engine(t, { env: { NAME: 'lua', EMPTY: '' } });
  assert.deepEqual([...await lua.compute('return select("#", ...), ...', { args: ['a', 'b'] })], [2, 'a', 'b']);
  assert.deepEqual([...await lua.compute('return select("#", ...)')], [0]);
  assert.deepEqual([...await lua.compute('return os.getenv("NAME"), os.getenv("EMPTY"), os.getenv("HOME")')], ['lua', '', null]);
  const bare = await engine(t);
  assert.deepEqual([...await bare.compute('return os.getenv("HOME") == nil, os.getenv("PATH") == nil')], [true, true]);
});

test('without fs, io.open and the other file functions fail as "not available in this sandbox"', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'data.txt'), 'secret');
  const lua = await engine(t);
  const path = join(dir, 'data.txt');
  const r = await lua.compute(`
    local f, open, code = io.open(...)
    return f, open, code, select(2, os.remove(...)), select(2, pcall(io.lines, ...)), select(2, io.tmpfile()), select(2, pcall(dofile, ...))`, { args: [path] });
  assert.deepEqual([...r], [null, `${path}: not available in this sandbox`, 38, `${path}: not available in this sandbox`,
    `cannot open file '${path}' (not available in this sandbox)`, 'not available in this sandbox',
    `cannot open ${path}: not available in this sandbox`]);
  assert.equal(await readFile(path, 'utf8'), 'secret');
});

test('with fs: true, io.open, io.lines, seek, os.remove, os.rename, os.tmpname and io.tmpfile reach real files', async (t) => {
  const dir = await tempDir(t);
  const lua = await engine(t, { fs: true });
  const path = join(dir, 'f.txt');
  const r = await lua.compute(`
    local path = ...
    local f = assert(io.open(path, "w")) f:write("one\\n", 2, "\\nthree") f:close()
    local lines = {} for l in io.lines(path) do lines[#lines + 1] = l end
    f = assert(io.open(path, "r+")) f:seek("set", 4) f:write("Z") local size = f:seek("end") f:seek("set") local all = f:read("a") f:close()
    f = assert(io.open(path, "a")) f:write("!") f:close()
    local t = io.tmpfile() t:write("temp") t:seek("set", 1) local tmp = t:read("a") t:close()
    local name = os.tmpname() local made = io.open(name) ~= nil
    assert(os.rename(path, path .. ".2"))
    local _, missing, code = io.open(path)
    return table.concat(lines, "|"), size, all, tmp, made, os.remove(name), missing, code, io.open(path .. ".2"):read("a")`, { args: [path] });
  assert.deepEqual([...r], ['one|2|three', 11, 'one\nZ\nthree', 'emp', true, true, `${path}: No such file or directory`, 2, 'one\nZ\nthree!']);
  assert.equal(await readFile(`${path}.2`, 'utf8'), 'one\nZ\nthree!');
});

test('require: modules registered from JS (source or value), package.preload, package.loaded', async (t) => {
  const lua = await engine(t);
  lua.registerModule('greet', 'local name, from = ... return { hi = function(who) return "hi " .. who end, name = name, from = from }');
  lua.registerModule('config', { size: 3, ratio: 0.5, tags: ['a', 'b'], on: true, nested: { deep: 'yes' } });
  lua.registerModule('answer', 42);
  const r = await lua.compute(`
    local g = require("greet") local c = require("config")
    package.preload.extra = function(name) return "preloaded " .. name end
    return g.hi("you"), g.name, g.from, require("greet") == g, package.loaded.greet == g,
      c.size, math.type(c.size), c.ratio, c.tags[2], c.on, c.nested.deep, require("answer"), require("extra")`);
  assert.deepEqual([...r], ['hi you', 'greet', ':preload:', true, true, 3, 'integer', 0.5, 'b', true, 'yes', 42, 'preloaded extra', ':preload:']);
  // A fresh state (reset) keeps the registrations.
  lua.reset();
  assert.deepEqual([...await lua.compute('return require("answer"), package.loaded.greet')], [42, null]);
  assert.throws(() => lua.registerModule('broken', 'return {'), (e) => e instanceof LuaError && /broken:1:/.test(e.message));
  assert.throws(() => lua.registerModule('fn', { f() {} }), TypeError);
  await assert.rejects(lua.compute('require("broken")'), /module 'broken' not found/);
});

test('require of Lua files by package.path with fs: true, LUA_PATH_5_4 before LUA_PATH', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'lib'));
  await writeFile(join(dir, 'lib', 'util.lua'), 'return { double = function(x) return 2 * x end, file = select(2, ...) }');
  const lua = await engine(t, { fs: true, env: { LUA_PATH: 'nowhere/?.lua', LUA_PATH_5_4: `${dir}/lib/?.lua;;` } });
  const r = await lua.compute('local u = require("util") return u.double(21), u.file, package.path:match("^[^;]*")');
  assert.deepEqual([...r], [42, `${dir}/lib/util.lua`, `${dir}/lib/?.lua`]);
  const sandboxed = await engine(t, { env: { LUA_PATH: `${dir}/lib/?.lua` } });
  await assert.rejects(sandboxed.compute('require("util")'), /module 'util' not found/);
});
