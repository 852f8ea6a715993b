// The golden corpus through the CLI and dist/lua.wasm: `node host-js/cli.js <name>.lua`, run
// from tests/lua as regen.sh runs lua5.4, must print byte-for-byte what lua5.4 printed and
// fail exactly when lua5.4 failed. Addresses (`0x...`) differ between runs: compared as `0xADDR`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, WASM_PATH } from './helpers.js';

const LUA_DIR = join(ROOT, 'tests', 'lua');
const CLI = join(ROOT, 'host-js', 'cli.js');
const PARALLEL = 4;

const names = readdirSync(LUA_DIR).filter((f) => f.endsWith('.lua')).map((f) => f.slice(0, -4)).sort();
const withoutAddresses = (bytes) => Buffer.from(bytes.toString('latin1').replace(/0x[0-9a-fA-F]+/g, '0xADDR'), 'latin1');

function runCli(name) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, `${name}.lua`], {
      cwd: LUA_DIR, env: { ...process.env, LUA_PERSIST_WASM: WASM_PATH }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out) }));
  });
}

test(`the golden corpus (${names.length} programs) prints what lua5.4 printed, through the CLI`, async () => {
  const failures = [];
  let next = 0;
  async function worker() {
    while (next < names.length) {
      const name = names[next++];
      const expected = withoutAddresses(readFileSync(join(LUA_DIR, 'expected', `${name}.out`)));
      const luaFailed = readFileSync(join(LUA_DIR, 'expected', `${name}.status`), 'utf8').trim() !== '0';
      const { code, stdout } = await runCli(name);
      if (!withoutAddresses(stdout).equals(expected)) failures.push(`${name}: stdout differs`);
      else if ((code !== 0) !== luaFailed) failures.push(`${name}: exit ${code}, lua5.4 ${luaFailed ? 'failed' : 'succeeded'}`);
    }
  }
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  assert.ok(names.length >= 300, `only ${names.length} programs`);
  assert.deepEqual(failures, []);
});
