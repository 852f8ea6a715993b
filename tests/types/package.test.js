// The npm package: its version is Cargo's, the browser entry loads nothing from Node, the
// declarations match the exports, and the packed tarball installs offline and runs the
// README's example, the `lua-persist` command and a TypeScript program compiled against it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const run = promisify(execFile);
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const TSC = join(HERE, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
const entries = pkg.exports['.'];
// npm must not ask the registry for anything.
const npmEnv = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };

async function tempDir(t) {
  const dir = await mkdtemp(join(tmpdir(), 'lua-persist-pkg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Every specifier the module graph from `file` names, statically or in `import()`. */
async function importGraph(file, seen = new Map()) {
  if (seen.has(file)) return seen;
  const { importedFiles } = ts.preProcessFile(await readFile(file, 'utf8'), true, true);
  const specifiers = importedFiles.map((f) => f.fileName);
  seen.set(file, specifiers);
  for (const s of specifiers) if (s.startsWith('.')) await importGraph(resolve(dirname(file), s), seen);
  return seen;
}

test("package.json's version is the Cargo workspace's", async () => {
  const cargo = await readFile(join(ROOT, 'Cargo.toml'), 'utf8');
  assert.equal(pkg.version, /\[workspace\.package\][^[]*?\nversion = "([^"]+)"/.exec(cargo)[1]);
});

test('the browser entry never names a node:* module, nor anything outside the package', async () => {
  for (const entry of [entries.browser.default, entries.default.default]) {
    const graph = await importGraph(join(ROOT, entry));
    assert.ok(graph.size > 5, `${entry}: too few modules found (${graph.size})`);
    for (const [file, specifiers] of graph) {
      for (const s of specifiers) assert.ok(s.startsWith('./') || s.startsWith('../'), `${file} imports '${s}'`);
    }
  }
});

/** The value (not type-only) names a declaration file exports. */
function declaredValues(dts) {
  const program = ts.createProgram([dts], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
  const checker = program.getTypeChecker();
  const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(dts)));
  const typeOnly = (s) => s.declarations?.some((d) => d.isTypeOnly || d.parent?.parent?.isTypeOnly);
  return exports.filter((s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return !typeOnly(s) && (target.flags & ts.SymbolFlags.Value) !== 0;
  }).map((s) => s.name).sort();
}

test('the declarations name exactly what each entry exports', async () => {
  for (const entry of [entries.browser, entries.node, entries.default]) {
    const module = await import(pathToFileURL(join(ROOT, entry.default)).href);
    assert.deepEqual(declaredValues(join(ROOT, entry.types)), Object.keys(module).sort(), entry.default);
  }
});

test('npm pack; install offline; the README example, the bin and TypeScript work from the package', async (t) => {
  const dir = await tempDir(t);
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env: npmEnv });
  const [{ filename, files }] = JSON.parse(stdout);
  const packed = files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'dist/lua.wasm', 'host-js/cli.js', 'host-js/node.d.ts', 'host-js/browser.d.ts']) {
    assert.ok(packed.includes(f), `${f} is not in the tarball`);
  }
  assert.ok(!packed.some((f) => f.startsWith('tests/') || f.startsWith('crates/')), 'tests or crates in the tarball');

  const project = join(dir, 'project');
  await run('mkdir', [project]);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--no-save', join(dir, filename)], { cwd: project, env: npmEnv });

  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const example = /^```js run\n([\s\S]*?)^```\n\s*<!-- expect-stdout: (".*") -->/m.exec(readme);
  assert.match(example[1], /from 'lua-persist'/, "README's first example imports 'lua-persist'");
  await writeFile(join(project, 'example.js'), example[1]);
  const ran = await run(process.execPath, ['example.js'], { cwd: project });
  assert.equal(ran.stdout, JSON.parse(example[2]));
  assert.equal(ran.stderr, '');

  const bin = await run(join(project, 'node_modules', '.bin', 'lua-persist'), ['-e', 'print(1 + 1, _VERSION)'], { cwd: project });
  assert.equal(bin.stdout, '2\tLua 5.4\n');

  for (const f of ['sample.ts', 'sample-browser.ts', 'tsconfig.json', 'tsconfig.browser.json']) await copyFile(join(HERE, f), join(project, f));
  for (const config of ['tsconfig.json', 'tsconfig.browser.json']) {
    await run(process.execPath, [TSC, '-p', config], { cwd: project }).catch((e) => assert.fail(`tsc -p ${config}:\n${e.stdout}${e.stderr}`));
  }
  const sample = await run(process.execPath, [join('out', 'sample.js')], { cwd: project });
  assert.equal(sample.stdout, 'sample ok\n');
});
