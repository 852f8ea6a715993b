// The CLI and its REPL, driven as child processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HOST, tempDir } from './helpers.js';

const CLI = join(HOST, 'cli.js');

/** Runs the CLI with `args` and `input` on stdin; resolves to {code, stdout (Buffer), stderr}. */
function cli(args, { input = '', cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    child.stdin.end(input);
  });
}

const hasLua = spawnSync('lua5.4', ['-v']).status === 0;
const noLua = !hasLua && 'lua5.4 not installed';
const VERSION = 'Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio';

/** Runs lua5.4 as `cli` runs ours; its program name reads as ours (`lua`). */
function lua54(args, { input = '', cwd, env } = {}) {
  const r = spawnSync('lua5.4', args, { input, cwd, env });
  const ours = (b) => b.toString().replaceAll('lua5.4', 'lua');
  return { code: r.status, stdout: ours(r.stdout), stderr: ours(r.stderr) };
}

/** Runs both with the same arguments, input, folder and environment; asserts they agree. */
async function sameAsLua(args, options = {}) {
  const ours = await cli(args, options);
  const theirs = lua54(args, options);
  const shown = `lua ${args.join(' ')}`;
  assert.equal(ours.stdout.toString(), theirs.stdout, `${shown}: stdout`);
  assert.equal(ours.stderr, theirs.stderr, `${shown}: stderr`);
  assert.equal(ours.code, theirs.code, `${shown}: exit status`);
  return ours;
}

const SCRIPT = `
print("plain", 1, 2.5, nil, true)
print("nul:\\0:end")
print("utf-8: héllo ✓ 日本")
print(string.rep("x", 3, "-"), string.format("%q", "a\\nb"))
print(#"\\0\\0", string.format("%5.2f|%d|%s", 3.14159, 42, "x"))
local s = "" for i = 1, 10 do s = s .. (i * i) .. "," end
print(s, #s)
`;

test('a script prints exactly what lua5.4 prints (raw bytes)', { skip: !hasLua && 'lua5.4 not installed' }, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'script.lua'), SCRIPT);
  const ours = await cli(['script.lua'], { cwd: dir });
  const theirs = spawnSync('lua5.4', ['script.lua'], { cwd: dir });
  assert.equal(ours.stderr, '');
  assert.equal(ours.code, 0);
  assert.deepEqual(ours.stdout, theirs.stdout);
  assert.ok(ours.stdout.includes(Buffer.from('nul:\0:end')));
});

test('errors go to stderr as "lua: chunk:line: message" with exit status 1', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.lua'), 'print("before")\nerror("boom")\nprint("after")\n');
  const r = await cli(['bad.lua'], { cwd: dir });
  assert.equal(r.code, 1);
  assert.equal(r.stdout.toString(), 'before\n');
  // As lua5.4 prints it.
  assert.equal(r.stderr, "lua: bad.lua:2: boom\nstack traceback:\n\t[C]: in function 'error'\n" +
    '\tbad.lua:2: in main chunk\n\t[C]: in ?\n');
  const syntax = await cli(['-e', 'x = = 1']);
  assert.equal(syntax.code, 1);
  assert.match(syntax.stderr, /^lua: \(command line\):1: /);
  const missing = await cli(['nope.lua'], { cwd: dir });
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'lua: cannot open nope.lua: No such file or directory\n');
  const usage = await cli(['--bogus']);
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /unrecognized option '--bogus'\nusage:/);
});

test('-e runs code before the script, and - reads the script from stdin', async () => {
  const r = await cli(['-e', 'x = 20', '-e', 'print(x + 1)', '-'], { input: 'print(x * 2)' });
  assert.equal(r.stdout.toString(), '21\n40\n');
  assert.equal(r.code, 0);
});

test('--state DIR keeps _home across runs', async (t) => {
  const dir = await tempDir(t);
  const step = '_home.runs = (_home.runs or 0) + 1 _home.log = _home.log or {} _home.log[_home.runs] = "run" .. _home.runs print(_home.runs, #_home.log)';
  for (let i = 1; i <= 3; i++) {
    const r = await cli(['--state', dir, '-e', step]);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout.toString(), `${i}\t${i}\n`);
  }
  // Without --state nothing is kept.
  assert.equal((await cli(['-e', 'print(_home.runs)'])).stdout.toString(), 'nil\n');
  // Data written before an error is kept too.
  await cli(['--state', dir, '-e', '_home.partial = true error("stop")']);
  assert.equal((await cli(['--state', dir, '-e', 'print(_home.partial, _home.runs)'])).stdout.toString(), 'true\t3\n');
});

test('--atomic: a chunk that fails leaves _home as it was, in scripts and in the REPL', async (t) => {
  const dir = await tempDir(t);
  await cli(['--state', dir, '-e', '_home.n = 1 _home.list = { "a" }']);
  const failed = await cli(['--state', dir, '--atomic', '-e', '_home.n = 2 _home.list[2] = "b" _home.new = {} error("stop")']);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /^lua: \(command line\):1: stop\nstack traceback:\n/);
  const repl = await cli(['--state', dir, '--atomic', '-i'], { input: '_home.n = 3 error("again")\n_home.ok = true\n' });
  assert.match(repl.stderr, /^stdin:1: again\nstack traceback:\n/);
  const r = await cli(['--state', dir, '-e', 'print(_home.n, #_home.list, _home.new, _home.ok)']);
  assert.equal(r.stdout.toString(), '1\t1\tnil\ttrue\n');
});

test('the REPL (-i) prints values, continues unfinished chunks and reports errors without exiting', async () => {
  const input = [
    'x = 10',
    '=x + 1',
    'x * 2, "two"',
    'for i = 1, 2 do',
    '  print("loop", i)',
    'end',
    'local s = [[long',
    'string]] print(s)',
    'error("oops")',
    'do return 1, 2 end',
    'print("still alive")',
    '',
  ].join('\n');
  const r = await cli(['-i'], { input });
  assert.equal(r.code, 0);
  assert.equal(r.stdout.toString(), `${VERSION}\n> x = 10\n> =x + 1\n11\n> x * 2, "two"\n20\ttwo\n` +
    '> for i = 1, 2 do\n>>   print("loop", i)\n>> end\nloop\t1\nloop\t2\n> local s = [[long\n>> string]] print(s)\nlong\nstring\n' +
    '> error("oops")\n> do return 1, 2 end\n1\t2\n> print("still alive")\nstill alive\n> \n');
  assert.equal(r.stderr, "stdin:1: oops\nstack traceback:\n\t[C]: in function 'error'\n\tstdin:1: in main chunk\n\t[C]: in ?\n");
});

test('the REPL with --state saves after every line', async (t) => {
  const dir = await tempDir(t);
  await cli(['--state', dir, '-i'], { input: '_home.greeting = "hi"\n_home.n = 41\n' });
  const r = await cli(['--state', dir, '-e', 'print(_home.greeting, _home.n + 1)']);
  assert.equal(r.stdout.toString(), 'hi\t42\n');
});

test('an error in a script prints lua: file:line: message and a traceback', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.lua'), 'local t = {}\nlocal function f() return t.x.y end\nprint(f())\n');
  const { code, stderr } = await cli(['bad.lua'], { cwd: dir });
  assert.equal(code, 1);
  assert.match(stderr, /^lua: bad\.lua:2: attempt to index a nil value \(field 'x'\)\nstack traceback:\n/);
  assert.match(stderr, /bad\.lua:3: in main chunk/);
});

test('options as lua5.4 takes them: -v, -e, --, -, -W, arg and ...', { skip: noLua }, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'args.lua'), 'print(...)\nprint(#arg, arg[0], arg[-1], arg[-2], arg[-3], arg[1], arg[2])\n');
  for (const args of [
    ['-v'], ['-v', '-e', 'print(1)'], ['-e', 'print(1)', '-e', 'print(2)'], ['-eprint(3)'],
    ['args.lua', 'a', 'b'], ['-e', 'x=1', '--', 'args.lua', '1'], ['-e', 'arg[1] = 100', 'args.lua', '-x'],
    ['-W', '-e', 'warn("hi") warn("@off") warn("not shown")'], ['-e', 'warn("off by default")'],
    ['-e', 'print(select("#", ...), arg[0], arg[-1])'], ['--'], ['-', '-h', 'x'], ['--', '-'],
  ]) await sameAsLua(args, { cwd: dir, input: 'print("from stdin", ...) print(arg[0], arg[-1])' });
});

test('usage errors, failures and exit statuses as lua5.4', { skip: noLua }, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bad.lua'), 'local t = {}\nlocal function f() return t.x.y end\nprint(f())\n');
  await writeFile(join(dir, 'syntax.lua'), 'x = = 1\n');
  for (const args of [
    ['-x'], ['-e'], ['-l'], ['-e', '-v'], ['-vx'], ['--x'], ['-Ex'],
    ['bad.lua'], ['syntax.lua'], ['missing.lua'], ['-e', 'error({})'], ['-e', 'error()'],
    ['-e', 'print("a") os.exit(3)'], ['-e', 'os.exit(false)'], ['-e', 'os.exit(true, true)'], ['-e', 'os.exit(7, true)'],
    ['-e', 'error("first")', '-e', 'print("never")'], ['-l', 'nonexistent_module'],
  ]) {
    const r = await cli(args, { cwd: dir });
    const theirs = lua54(args, { cwd: dir });
    assert.equal(r.code, theirs.code, `lua ${args.join(' ')}: exit status`);
    assert.equal(r.stdout.toString(), theirs.stdout, `lua ${args.join(' ')}: stdout`);
    // lua.c calls require itself for -l: its traceback has no chunk of ours.
    if (args[0] === '-l' && args.length > 1) assert.equal(r.stderr.split('stack traceback')[0], theirs.stderr.split('stack traceback')[0]);
    else assert.equal(r.stderr, theirs.stderr, `lua ${args.join(' ')}: stderr`);
  }
});

test('error objects that are not strings are reported as lua5.4 reports them (its msghandler)', { skip: noLua }, async () => {
  const boom = "setmetatable({}, {__tostring = function() return 'boom' end})";
  for (const code of [
    `error(${boom})`, 'error(42)', 'error(2^63)', 'error(-0.5)', 'error(nil)', 'error({})', 'error(true)',
    "error(setmetatable({}, {__tostring = function() return 7 end}))",
    "error(setmetatable({}, {__tostring = function() error('in __tostring') end}))",
    "error(setmetatable({}, {__tostring = setmetatable({}, {__call = function() return 'callable' end})}))",
    `coroutine.wrap(function() error(${boom}) end)()`,
    `print(pcall(error, ${boom})) error(${boom}, 2)`,
    "debug.setmetatable(nil, {__tostring = function() return 'nil described' end}) error()",
  ]) await sameAsLua(['-e', code]);
  await sameAsLua(['-i'], { input: `error(${boom})\nerror({})\nprint("still here")\n` });
});

test('a #! first line is skipped, and piped standard input without arguments runs as a script', { skip: noLua }, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'hash.lua'), '#!/usr/bin/env lua\nprint("ran")\nerror("line 3")\n');
  await sameAsLua(['hash.lua'], { cwd: dir });
  await sameAsLua([], { input: '#!shebang\nlocal x = 1\nprint(x, ...)\nprint(io.read("l"))\n' });
  await sameAsLua([], { input: 'print("piped")\n=2\n' });
});

test('a binary chunk (string.dump output) runs as a script, with its arguments', async (t) => {
  const dir = await tempDir(t);
  const dump = await cli(['-e', 'local f = assert(io.open("f.luac", "wb")) f:write(string.dump(load("print(\'binary\', ...)"))) f:close()'], { cwd: dir });
  assert.equal(dump.stderr, '');
  const r = await cli(['f.luac', 'x', 'y'], { cwd: dir });
  assert.equal(r.stderr, '');
  assert.equal(r.stdout.toString(), 'binary\tx\ty\n');
});

test('-i: the interactive loop as lua5.4 shows it on piped input, _PROMPT included', { skip: noLua }, async () => {
  const input = 'x = 10\n=x + 1\nx, nil, "s"\nfunction f()\nreturn 1\nend\nf()\n_PROMPT = "lua> "\n_G == _G\n' +
    'error("oops")\n(\nprint(1) do return 1, 2 end\nreturn\nprint = nil\n1\n';
  await sameAsLua(['-i'], { input });
  await sameAsLua(['-e', 'y = 5', '-i'], { input: 'y\nos.exit(4)\nprint("not run")\n' });
});

test('-l loads Lua files from package.path (LUA_PATH_5_4, LUA_PATH, ;; for the default) and -E ignores them', { skip: noLua }, async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'lib'));
  await writeFile(join(dir, 'lib', 'greet.lua'), 'local name = ... return { hello = function() return "hello from " .. name end, file = select(2, ...) }\n');
  await writeFile(join(dir, 'local.lua'), 'return "local module"\n');
  const env = (vars) => ({ PATH: process.env.PATH, ...vars });
  const show = ['-e', 'print(greet.hello(), greet.file, package.loaded.greet == greet)'];
  await sameAsLua(['-l', 'greet', ...show], { cwd: dir, env: env({ LUA_PATH: './lib/?.lua' }) });
  await sameAsLua(['-l', 'greet', ...show], { cwd: dir, env: env({ LUA_PATH_5_4: './lib/?.lua;;', LUA_PATH: 'nowhere/?.lua' }) });
  await sameAsLua(['-lg=greet', '-e', 'print(g.hello(), greet)'], { cwd: dir, env: env({ LUA_PATH: './lib/?.lua' }) });
  await sameAsLua(['-l', 'local', '-e', 'print(package.path)', '-e', 'print(require("local"), pcall(require, "nope"))'], { cwd: dir, env: env({}) });
  await sameAsLua(['-E', '-e', 'print(package.path, pcall(require, "greet"))'], { cwd: dir, env: env({ LUA_PATH: './lib/?.lua' }) });
  await sameAsLua(['-e', 'print(x)'], { cwd: dir, env: env({ LUA_INIT: 'x = "from LUA_INIT"' }) });
  await sameAsLua(['-E', '-e', 'print(x)'], { cwd: dir, env: env({ LUA_INIT: 'x = "from LUA_INIT"' }) });
  await sameAsLua(['-e', 'print(x)'], { cwd: dir, env: env({ LUA_INIT_5_4: '@local.lua', LUA_INIT: 'error("not this one")' }) });
});

test('io on the process streams and real files, os.getenv, as lua5.4', { skip: noLua }, async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'io.lua'), `
    print(io.read("n", "n", "l"))
    print(io.read(3), io.read(0), io.read("L"))
    for line in io.lines() do io.write("[", line, "]\\n") if line == "stop" then break end end
    print(io.read("a"))
    print(io.read("a"), io.read("l"), io.read(0))
    io.stderr:write("to stderr\\n")
    io.stdout:write("to stdout ", 1, " ", 2.5, "\\n")
    print(io.type(io.stdout), io.type(io.stdin), io.type(42))
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write("alpha\\n", 12, "\\nomega")
    f:close()
    for l in io.lines(name) do print(l) end
    f = assert(io.open(name, "a+")) f:write("!") f:seek("set", 2) print(f:read("a")) f:close()
    local _, missing, code = io.open(name .. ".missing")
    print(missing:sub(#name + 1), code)
    print(os.rename(name, name .. ".2"), os.remove(name .. ".2"), select(3, os.remove(name)))
    print(os.getenv("LUA_PERSIST_TEST"), os.getenv("NOT_SET_ANYWHERE"))
  `);
  const input = '12 3.5 rest\nabcdef\nline\nmore\nstop\ntail\n';
  await sameAsLua(['io.lua'], { cwd: dir, input, env: { PATH: process.env.PATH, LUA_PERSIST_TEST: 'yes' } });
});
