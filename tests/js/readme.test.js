// Runs the examples fenced as ```js run in README.md (or, until README has some,
// docs/example.md). Imports of './host-js/...' resolve from the repository root.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir } from './helpers.js';

const run = promisify(execFile);

async function examples() {
  for (const file of ['README.md', 'docs/example.md']) {
    const text = await readFile(join(ROOT, file), 'utf8').catch(() => '');
    const blocks = [...text.matchAll(/^```js run[^\n]*\n([\s\S]*?)^```/gm)].map((m) => m[1]);
    if (blocks.length) return { file, blocks };
  }
  return { file: null, blocks: [] };
}

const { file, blocks } = await examples();

test('there are runnable examples', () => {
  assert.ok(blocks.length > 0, 'no ```js run block in README.md or docs/example.md');
});

blocks.forEach((code, i) => {
  test(`${file} example ${i + 1} runs`, async (t) => {
    const dir = await tempDir(t);
    const host = pathToFileURL(join(ROOT, 'host-js')).href;
    const source = code.replace(/(['"])\.\/host-js\//g, `$1${host}/`);
    const path = join(dir, `example-${i + 1}.mjs`);
    await writeFile(path, source);
    const { stderr } = await run(process.execPath, [path], { cwd: dir });
    assert.equal(stderr, '');
  });
});
