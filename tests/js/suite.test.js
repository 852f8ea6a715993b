// The official Lua 5.4.4 suite (../shared/lua-5.4.4-tests) through the CLI and dist/lua.wasm,
// each file as `lua -e "_port=true _soft=true" FILE` from a copy of the suite's folder, with the
// lines tests/lua/suite-exceptions.txt lists turned into comments (as crates/vm/tests/suite.rs
// does natively). Every file runs, all.lua (all of them in one state) included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, WASM_PATH, tempDir } from './helpers.js';

const SUITE = join(ROOT, '..', 'shared', 'lua-5.4.4-tests');
const CLI = join(ROOT, 'host-js', 'cli.js');

/** Skipped files and the lines to comment out per file, from tests/lua/suite-exceptions.txt. */
function exceptions() {
  const skip = new Set();
  const lines = new Map();
  for (const entry of readFileSync(join(ROOT, 'tests', 'lua', 'suite-exceptions.txt'), 'utf8').split('\n')) {
    if (!entry.trim() || entry.startsWith('#')) continue;
    const [file, second] = entry.split(':');
    const line = Number.parseInt(second, 10);
    if (Number.isInteger(line) && /^\d+$/.test(second.trim())) {
      if (!lines.has(file)) lines.set(file, new Set());
      lines.get(file).add(line);
    } else skip.add(file.trim());
  }
  return { skip, lines };
}

function runCli(dir, file) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--wasm', WASM_PATH, '-e', '_port=true _soft=true', file], {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: Buffer.concat(out).toString() }));
  });
}

test('the official suite passes through the CLI', { skip: !existsSync(SUITE) && 'no ../shared/lua-5.4.4-tests' }, async (t) => {
  const dir = await tempDir(t, 'lua-suite-');
  cpSync(SUITE, dir, { recursive: true });
  const { skip, lines } = exceptions();
  for (const [file, numbers] of lines) {
    const path = join(dir, file);
    const text = readFileSync(path, 'latin1').split('\n').map((l, i) => (numbers.has(i + 1) ? `-- ${l}` : l));
    writeFileSync(path, text.join('\n'), 'latin1');
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.lua') && !skip.has(f)).sort();
  assert.ok(files.length >= 20, `only ${files.length} files`);
  const failed = [];
  for (const file of files) {
    const { code, output } = await runCli(dir, file);
    if (code !== 0) failed.push(`${file}: ${output.split('\n').find((l) => l.startsWith('lua:')) ?? output.slice(-200)}`);
  }
  assert.deepEqual(failed, []);
  t.diagnostic(`${files.length} files passed`);
});
