// Shared by the node:test files: paths, a compiled module, temporary directories.

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The module under test: dist/lua.wasm, or $LUA_PERSIST_WASM. */
export const WASM_PATH = process.env.LUA_PERSIST_WASM || join(ROOT, 'dist', 'lua.wasm');
export const HOST = join(ROOT, 'host-js');

/** The module compiled once per test file. */
export const wasmModule = new WebAssembly.Module(readFileSync(WASM_PATH));

/** A fresh temporary directory, removed when the test ends. */
export async function tempDir(t, prefix = 'lua-persist-') {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
