// `make bench`: lua-persist side by side with wasmoon, fengari and native lua5.4, in one run
// on one machine. Writes BENCHMARKS.md, docs/bench-ratios.svg and tests/bench/results.json.
//
// Environment: BENCH_REPS (default 5) runs per measurement, the median is reported;
// BENCH_QUICK=1 for a smoke run (1 rep, small sizes, writes nothing but results-quick.json);
// BENCH_ONLY=persist (or any comma-separated sections of vm, ext, persist, startup) measures only
// those sections and keeps the others of results.json.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { cpus, totalmem, tmpdir, platform, release } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VM, external, fmtN } from './workloads.mjs';
import { renderMarkdown } from './report.mjs';
import { renderSvg } from './svg.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const QUICK = process.env.BENCH_QUICK === '1';
const REPS = Number(process.env.BENCH_REPS ?? (QUICK ? 1 : 5));
const N = QUICK ? 20000 : 1000000;      // external writes / reads per run
const NP = QUICK ? 20000 : 1000000;     // pairs
const NN = QUICK ? 5000 : 100000;       // nested tables
const PLAIN_HEAP_LIMIT = 1024 * 2 ** 20; // for the plain-table counterparts only
const PERSIST = QUICK ? [10000] : [100000, 1000000];
const SECTIONS = ['vm', 'ext', 'persist', 'startup'];
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;
if (ONLY?.some((s) => !SECTIONS.includes(s))) throw new Error(`BENCH_ONLY=${ONLY}: sections are ${SECTIONS.join(', ')}`);
const measure = (section) => ONLY === null || ONLY.includes(section);
const started = Date.now();

// `node run.mjs --render`: rewrite BENCHMARKS.md and the SVG from results.json, measuring nothing.
if (process.argv.includes('--render')) {
  const saved = JSON.parse(readFileSync(join(here, 'results.json'), 'utf8'));
  writeFileSync(join(root, 'BENCHMARKS.md'), renderMarkdown(saved));
  writeFileSync(join(root, 'docs', 'bench-ratios.svg'), renderSvg(saved));
  process.exit(0);
}

const log = (...a) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${a.join(' ')}\n`);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

// A private copy of the module: others may rebuild dist/lua.wasm while we run.
const work = mkdtempSync(join(tmpdir(), 'lua-persist-bench-'));
const wasmSrc = join(root, 'dist', 'lua.wasm');
if (!existsSync(wasmSrc)) throw new Error('dist/lua.wasm is missing: run `make build` (or `make bench`)');
const wasm = join(work, 'lua.wasm');
copyFileSync(wasmSrc, wasm);
const wasmBytes = readFileSync(wasm);
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return r.status === 0 ? r.stdout.trim() : null;
}

function worker(task, timeoutMs = 600000) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', join(here, 'worker.mjs'), JSON.stringify(task)], {
    encoding: 'utf8', cwd: here, env: { ...process.env, BENCH_WASM: wasm }, timeout: timeoutMs, maxBuffer: 1 << 24,
  });
  const line = r.stdout?.trim().split('\n').pop();
  try { return JSON.parse(line); } catch { return { ok: false, error: `worker failed (${r.signal ?? r.status}): ${(r.stderr || '').slice(-300)}` }; }
}

// A native interpreter (lua5.4, or our VM's runner): timed inside the script with os.clock,
// so process start is excluded.
function timedScript(cmd, code, reps) {
  const file = join(work, 'w.lua');
  writeFileSync(file, 'local __t0 = os.clock()\nlocal __r = (function()\n' + code + '\nend)()\n' +
    "local __t1 = os.clock()\nio.write(string.format('%.4f', (__t1 - __t0) * 1000), '\\t', tostring(__r), '\\n')\n");
  const runs = [];
  for (let i = 0; i < reps; i++) {
    const r = spawnSync(cmd, [file], { encoding: 'utf8', timeout: 600000 });
    if (r.status !== 0) return { ok: false, error: (r.stderr || r.error?.message || 'failed').trim().slice(0, 300) };
    const [ms, checksum] = r.stdout.trim().split('\t');
    runs.push({ ms: Number(ms), checksum });
  }
  return { ok: true, runs };
}

function summarise(res) {
  if (!res.ok) return { ok: false, error: res.error };
  const sums = [...new Set(res.runs.map((r) => r.checksum))];
  const out = { ok: true, ms: median(res.runs.map((r) => r.ms)), runs: res.runs.map((r) => +r.ms.toFixed(3)), checksum: sums.join(' | ') };
  const pages = res.runs.map((r) => r.wasmPages).filter((p) => p !== undefined);
  if (pages.length) out.wasmPages = Math.max(...pages);
  const heap = res.runs.map((r) => r.luaHeapBytes).filter((p) => p !== undefined);
  if (heap.length) out.luaHeapBytes = Math.max(...heap);
  return out;
}

// fengari has 32-bit integers: an integer sum wraps modulo 2^32, which is still checkable.
function verdict(ref, got, engine) {
  if (!got.ok || !ref.ok) return '';
  if (got.checksum === ref.checksum) return 'ok';
  if (engine === 'fengari' && /^-?\d+$/.test(ref.checksum) && String(BigInt.asIntN(32, BigInt(ref.checksum))) === got.checksum) return 'ok32';
  return 'MISMATCH';
}

const results = { quick: QUICK, reps: REPS, sizes: { N, NP, NN, PERSIST }, vm: [], external: [], persist: [], startup: [], sizesOfModules: {}, env: {} };

// ---------- environment ----------
const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const pkg = (name) => JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
results.env = {
  date: new Date().toISOString(),
  cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? cpus()[0]?.model,
  cores: cpus().length,
  ramGiB: +(totalmem() / 2 ** 30).toFixed(1),
  os: `${platform()} ${release()}`,
  node: process.version,
  lua: sh('lua5.4', ['-v']),
  wasmoon: pkg('wasmoon'),
  fengari: pkg('fengari'),
  rustc: sh('rustc', ['--version']),
  chromium: sh(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version']),
  commit: sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']),
  dirty: (sh('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'crates', 'host-js', 'Cargo.toml', 'Cargo.lock']) ?? '').length > 0,
  wasmSha256: createHash('sha256').update(wasmBytes).digest('hex').slice(0, 16),
  tmpFs: sh('df', ['-T', work])?.split('\n').pop().split(/\s+/)[1],
  reps: REPS,
  only: ONLY?.join(','),
  loadavgStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
};
log(`machine: ${results.env.cpu}, ${results.env.cores} cores; ${REPS} reps per measurement${QUICK ? ' (QUICK)' : ''}`);

// ---------- 1. VM and stdlib ----------
for (const w of measure('vm') ? VM : []) {
  const row = { name: w.name, label: w.label, group: w.group };
  row.lua54 = summarise(timedScript('lua5.4', w.code, REPS));
  for (const engine of ['ours', 'wasmoon', 'fengari']) {
    row[engine] = summarise(worker({ kind: 'vm', engine, code: w.code, reps: REPS }));
    row[engine].check = verdict(row.lua54, row[engine], engine);
  }
  const f = (e) => (row[e].ok ? `${e} ${row[e].ms.toFixed(1)}ms` : `${e} ERROR`);
  log(`${w.name}: ${['lua54', 'ours', 'wasmoon', 'fengari'].map(f).join(', ')}`);
  results.vm.push(row);
}

// ---------- 1b. Our VM natively (crates/vm's runner) beside lua5.4 ----------
// `make bench` builds the runner twice: as shipped, and `unmetered` (spending no fuel) to
// measure what the instruction budget costs on the addition loop.
const nativeVm = process.env.BENCH_NATIVE_VM ?? join(root, 'target', 'release', 'examples', 'lua');
const unmeteredVm = process.env.BENCH_UNMETERED_VM ?? join(root, 'target', 'unmetered', 'release', 'examples', 'lua');
if (!measure('vm')) {
  // Kept from the last run that measured it.
} else if (existsSync(nativeVm)) {
  for (const row of results.vm) {
    const w = VM.find((x) => x.name === row.name);
    row.native = summarise(timedScript(nativeVm, w.code, REPS));
    row.native.check = verdict(row.lua54, row.native, 'native');
    log(`${w.name} natively: lua5.4 ${row.lua54.ms?.toFixed(1)}ms, ours ${row.native.ok ? row.native.ms.toFixed(1) + 'ms' : row.native.error}`);
  }
  if (existsSync(unmeteredVm)) {
    // Alternating runs, so that drift in the machine's load hits both alike.
    const loop = VM.find((x) => x.name === 'add_loop').code;
    const metered = { ok: true, runs: [] };
    const unmetered = { ok: true, runs: [] };
    for (let i = 0; i < 3 * REPS; i++) {
      for (const [cmd, into] of [[nativeVm, metered], [unmeteredVm, unmetered]]) {
        const r = timedScript(cmd, loop, 1);
        if (r.ok) into.runs.push(...r.runs); else Object.assign(into, r);
      }
    }
    results.fuel = { metered: summarise(metered), unmetered: summarise(unmetered) };
    log(`fuel: ${results.fuel.metered.ms?.toFixed(1)}ms metered, ${results.fuel.unmetered.ms?.toFixed(1)}ms unmetered`);
  }
} else {
  log('the native runner is missing (`make bench` builds it): native figures not measured');
}

// Known gaps that change how a workload had to be written.
results.probes = (measure('vm') ? [
  { code: "return ('x'):upper()", why: 'method calls on strings need the string metatable, so the gsub workload is written `string.gsub(s, ...)`' },
] : []).map((p) => {
  const r = worker({ kind: 'vm', engine: 'ours', code: p.code, reps: 1 });
  return { ...p, ok: r.ok, error: r.error };
});

// ---------- 2. External tables ----------
for (const w of measure('ext') ? external(N, NP, NN) : []) {
  const row = { name: w.name, label: w.label, ops: w.ops, kind: w.kind };
  row.ext = summarise(worker({ kind: 'ext', code: w.ext, prefill: w.prefill, reps: REPS }));
  // A plain table of 1e6 string pairs needs more than the default 128 MiB Lua heap: raise it.
  row.plain = summarise(worker({ kind: 'ext', code: w.plain, setup: w.plainSetup, reps: REPS, memoryLimit: PLAIN_HEAP_LIMIT }));
  row.check = row.ext.ok && row.plain.ok ? (row.ext.checksum === row.plain.checksum ? 'ok' : 'MISMATCH') : '';
  log(`${w.name}: external ${row.ext.ok ? row.ext.ms.toFixed(1) + 'ms' : row.ext.error}, plain ${row.plain.ok ? row.plain.ms.toFixed(1) + 'ms' : row.plain.error}`);
  results.external.push(row);
}

// ---------- 3. Persistence (Node file store, fsync on) ----------
for (const n of measure('persist') ? PERSIST : []) {
  const res = worker({ kind: 'persist', n, reps: REPS, dir: work });
  const row = { n };
  if (!res.ok) row.error = res.error;
  else {
    const runs = res.runs;
    for (const k of ['saveMs', 'loadMs', 'incMs', 'incSteadyMs', 'incNoSyncMs']) row[k] = median(runs.map((r) => r[k]));
    row.runs = runs.map((r) => ({ save: +r.saveMs.toFixed(1), load: +r.loadMs.toFixed(1), inc: +r.incMs.toFixed(2), incNoSync: +r.incNoSyncMs.toFixed(2) }));
    row.savedBytes = runs[0].savedBytes;
    row.incBytes = runs[0].incBytes;
    row.wasmPages = Math.max(...runs.map((r) => r.wasmPages));
    row.checksum = [...new Set(runs.map((r) => r.checksum))].join(' | ');
    row.check = row.checksum === `${n}:changed:v${n}` ? 'ok' : 'MISMATCH';
  }
  log(`persist ${fmtN(n)}: ${row.error ?? `save ${row.saveMs.toFixed(0)}ms, load ${row.loadMs.toFixed(0)}ms, incremental ${row.incMs.toFixed(2)}ms (steady ${row.incSteadyMs.toFixed(2)}ms)`}`);
  results.persist.push(row);
}

// ---------- 3b. Persistence through IndexedDB in Chromium ----------
results.idb = [];
if (measure('persist')) try {
  const { idbBench } = await import('./idb.mjs');
  for (const row of await idbBench(PERSIST, () => REPS)) {
    if (!row.error) {
      for (const k of ['saveMs', 'loadMs', 'incMs', 'incSteadyMs']) row[k] = median(row.runs.map((r) => r[k]));
      row.check = row.runs.every((r) => r.check === `${row.n}:changed:v${row.n}`) ? 'ok' : 'MISMATCH';
    }
    log(`idb ${fmtN(row.n)}: ${row.error ?? `save ${row.saveMs.toFixed(0)}ms, load ${row.loadMs.toFixed(0)}ms, incremental ${row.incMs.toFixed(1)}ms (steady ${row.incSteadyMs.toFixed(1)}ms)`}`);
    results.idb.push(row);
  }
} catch (e) {
  log(`idb: not measured (${e.message})`);
  results.idb.push({ n: 0, error: String(e.message).slice(0, 200) });
}

// ---------- 4. Start-up: a fresh process to the first result ----------
const apiUrl = new URL('../../host-js/lua-api.js', import.meta.url).href;
const startups = [
  { name: 'node (empty process)', cmd: process.execPath, args: ['-e', 'process.stdout.write("2")'] },
  { name: 'lua-persist', cmd: process.execPath, args: ['--input-type=module', '-e',
    `import { LuaEngine } from ${JSON.stringify(apiUrl)}; const e = await LuaEngine.create({ wasm: process.env.BENCH_WASM }); process.stdout.write(String((await e.compute('return 1 + 1'))[0]));`] },
  { name: 'wasmoon', cmd: process.execPath, args: ['--input-type=module', '-e',
    "import { LuaFactory } from 'wasmoon'; const l = await new LuaFactory().createEngine(); process.stdout.write(String(await l.doString('return 1 + 1')));"] },
  { name: 'fengari', cmd: process.execPath, args: ['--input-type=module', '-e',
    "import f from 'fengari'; const { lua, lauxlib, lualib, to_luastring } = f; const L = lauxlib.luaL_newstate(); lualib.luaL_openlibs(L); lauxlib.luaL_loadstring(L, to_luastring('return 1 + 1')); lua.lua_pcall(L, 0, 1, 0); process.stdout.write(lua.lua_tojsstring(L, -1));"] },
  { name: 'lua5.4', cmd: 'lua5.4', args: ['-e', 'io.write(1 + 1)'] },
];
for (const s of measure('startup') ? startups : []) {
  const times = [];
  let out = null;
  for (let i = 0; i <= REPS; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(s.cmd, s.args, { encoding: 'utf8', cwd: here, env: { ...process.env, BENCH_WASM: wasm } });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    out = r.status === 0 ? r.stdout.trim() : `error: ${(r.stderr || '').trim().slice(0, 200)}`;
    if (i > 0) times.push(ms); // the first run only warms the file cache
  }
  results.startup.push({ name: s.name, ms: median(times), runs: times.map((t) => +t.toFixed(1)), output: out, check: out === '2' ? 'ok' : 'MISMATCH' });
  log(`startup ${s.name}: ${median(times).toFixed(1)}ms (${out})`);
}

// ---------- module sizes ----------
// GNU gzip -9, as `make size` measures (zlib's level 9 comes out some 800 bytes larger).
const gz = (b) => spawnSync('gzip', ['-9', '-c'], { input: b, maxBuffer: 1 << 28 }).stdout.length;
const wasmoonDir = join(here, 'node_modules', 'wasmoon', 'dist');
const fengariSrc = join(here, 'node_modules', 'fengari', 'src');
const fengariJs = Buffer.concat(readdirSync(fengariSrc).filter((f) => f.endsWith('.js')).map((f) => readFileSync(join(fengariSrc, f))));
results.sizesOfModules = {
  ours: { what: 'dist/lua.wasm (+ host-js/*.js)', raw: wasmBytes.length, gzip: gz(wasmBytes), js: dirSize(join(root, 'host-js')) },
  wasmoon: { what: 'dist/glue.wasm (+ dist/index.js)', raw: statSync(join(wasmoonDir, 'glue.wasm')).size, gzip: gz(readFileSync(join(wasmoonDir, 'glue.wasm'))), js: statSync(join(wasmoonDir, 'index.js')).size },
  fengari: { what: 'src/*.js (no wasm)', raw: fengariJs.length, gzip: gz(fengariJs), js: fengariJs.length },
};

function dirSize(dir) {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    if (f.isDirectory()) n += dirSize(join(dir, f.name));
    else if (f.name.endsWith('.js')) n += statSync(join(dir, f.name)).size;
  }
  return n;
}

results.env.loadavgEnd = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
results.totalSeconds = Math.round((Date.now() - started) / 1000);
log(`done in ${results.totalSeconds}s`);

if (QUICK) {
  writeFileSync(join(here, 'results-quick.json'), JSON.stringify(results, null, 1));
  process.stdout.write(renderMarkdown(results));
} else {
  // A partial run replaces the sections it measured and says when they were measured.
  const out = ONLY ? { ...JSON.parse(readFileSync(join(here, 'results.json'), 'utf8')) } : results;
  if (ONLY) {
    // Module sizes cost nothing to measure: always the module this run used.
    out.sizesOfModules = results.sizesOfModules;
    const keys = { vm: ['vm', 'probes', 'fuel'], ext: ['external'], persist: ['persist', 'idb'], startup: ['startup'] };
    for (const section of ONLY) {
      for (const k of keys[section]) out[k] = results[k];
      out[`${section}Env`] = results.env;
    }
  }
  writeFileSync(join(here, 'results.json'), `${JSON.stringify(out, null, 1)}\n`);
  writeFileSync(join(root, 'BENCHMARKS.md'), renderMarkdown(out));
  writeFileSync(join(root, 'docs', 'bench-ratios.svg'), renderSvg(out));
  log('wrote BENCHMARKS.md, docs/bench-ratios.svg, tests/bench/results.json');
}
