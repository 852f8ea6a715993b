// Runs the examples fenced as ```js run in README.md. Imports of 'lua-persist' resolve to the
// package's Node entry and './host-js/...' to the repository's files (tests/types/package.test.js
// runs the first example from the installed package). A block followed by
// `<!-- expect-stdout: "JSON string" -->` must print exactly that.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir } from './helpers.js';

const run = promisify(execFile);

const file = 'README.md';
const text = await readFile(join(ROOT, file), 'utf8');
const blocks = [...text.matchAll(/^```js run[^\n]*\n([\s\S]*?)^```\n(?:\s*<!-- expect-stdout: (".*") -->)?/gm)]
  .map((m) => ({ code: m[1], expected: m[2] === undefined ? null : JSON.parse(m[2]) }));

test('README has runnable examples', () => {
  assert.ok(blocks.length > 0, 'no ```js run block in README.md');
});

blocks.forEach(({ code, expected }, i) => {
  test(`${file} example ${i + 1} runs`, async (t) => {
    const dir = await tempDir(t);
    const host = pathToFileURL(join(ROOT, 'host-js')).href;
    const source = code.replace(/(['"])lua-persist\1/g, `$1${host}/node.js$1`).replace(/(['"])\.\/host-js\//g, `$1${host}/`);
    const path = join(dir, `example-${i + 1}.mjs`);
    await writeFile(path, source);
    const { stdout, stderr } = await run(process.execPath, [path], { cwd: dir });
    assert.equal(stderr, '');
    if (expected !== null) assert.equal(stdout, expected);
  });
});
