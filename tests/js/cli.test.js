// The CLI and its REPL, driven as child processes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HOST, tempDir } from './helpers.js';

const CLI = join(HOST, 'cli.js');

/** Runs the CLI with `args` and `input` on stdin; resolves to {code, stdout (Buffer), stderr}. */
function cli(args, { input = '', cwd } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd });
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
  assert.equal(missing.stderr, 'lua: cannot open nope.lua\n');
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
  const repl = await cli(['--state', dir, '--atomic'], { input: '_home.n = 3 error("again")\n_home.ok = true\n' });
  assert.equal(repl.stderr, 'stdin:1: again\n');
  const r = await cli(['--state', dir, '-e', 'print(_home.n, #_home.list, _home.new, _home.ok)']);
  assert.equal(r.stdout.toString(), '1\t1\tnil\ttrue\n');
});

test('the REPL evaluates lines, prints expressions, continues unfinished chunks', async () => {
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
    'print("still alive")',
    '',
  ].join('\n');
  const r = await cli([], { input });
  assert.equal(r.code, 0);
  assert.equal(r.stdout.toString(), '11\n20\ttwo\nloop\t1\nloop\t2\nlong\nstring\nstill alive\n');
  assert.equal(r.stderr, 'stdin:1: oops\n');
});

test('the REPL with --state saves after every line', async (t) => {
  const dir = await tempDir(t);
  await cli(['--state', dir], { input: '_home.greeting = "hi"\n_home.n = 41\n' });
  const r = await cli(['--state', dir], { input: '=_home.greeting, _home.n + 1\n' });
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
