// Uses the whole public API as a Node program would. The package test compiles it against
// the installed package's declarations (tsc, strict) and runs the output.

import {
  LuaEngine, MemoryStore, FileStore, LuaError, LuaLimitError, LuaExit, LuaReleasedError, AbiError, StoreError,
  LuaResults, LuaTableRef, LuaOpaque, LuaTable,
  loadLuaWasm, init, compute, saveState, loadState, getMemoryStats, getEngine, defaultStore,
  type LuaEngineOptions, type LuaValue, type LuaFunction, type Store, type MemoryStats,
} from 'lua-persist';

// Node's, declared here so that the sample needs no @types/node.
declare global {
  interface ImportMeta { resolve(specifier: string): string }
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`sample: ${what}`);
}

// The README's example.
const store = new MemoryStore();
const lua = await LuaEngine.create({ store });
await lua.compute(`_home.visits = (_home.visits or 0) + 1
                   _home.user = { name = "ada", langs = { "lua", "rust" } }`);
await lua.save();
lua.close();
const again = await LuaEngine.create({ store });
const [visits, name, langs]: LuaValue[] = await again.compute('return _home.visits, _home.user.name, #_home.user.langs');
check(visits === 1 && name === 'ada' && langs === 2, 'README example');

// Every option.
const printed: Uint8Array[] = [];
const options: LuaEngineOptions = {
  wasm: new URL(import.meta.resolve('lua-persist/lua.wasm')),
  store: new FileStore('.state-sample', { fsync: false, timeout: 0, lockTimeout: 1000, maxSegments: 4, staleLockMs: 60_000 }),
  restore: true, autosave: true, atomic: false, instructionLimit: 1_000_000, memoryLimit: 16 << 20,
  chunkName: '=sample', binaryChunks: false, sliceMs: 4,
  onOutput: (bytes) => { printed.push(bytes); },
  onError: (error) => { throw error; },
  onStderr: () => {}, onInput: () => null, fs: false, env: { LUA_PATH: '?.lua' },
};
const engine = await LuaEngine.create(options);
const results: LuaResults = await engine.compute('print("hi") _home.n = 1 return 1, 2^63, "x", {1, 2}, {k = true}, print, coroutine.create(print)', {
  chunkName: '=run', io: { a: 1, nested: [1, 2] }, atomic: true, signal: new AbortController().signal,
});
check(results.output === 'hi\n' && results.outputBytes.length === 3 && printed.length > 0, 'output');
check(typeof results[5] === 'function', 'a Lua function is a JS function');
check(results[6] instanceof LuaOpaque && (results[6] as LuaOpaque).type === 'thread', 'opaque');
check(String(engine.computeSync('return _io.a', { io: new Map([['a', 5]]) })) === '5', 'computeSync with io');
check(engine.check('return 1') === null && engine.check('return +') instanceof LuaError, 'check');
engine.setIo([1, 'two', { three: 3 }]);
check(engine.getIo().get(2) === 'two', 'setIo/getIo');
const home: Map<LuaValue, LuaValue> = engine.readTable(engine.memoryTableId, { depth: 1, limit: 10 });
check(home.get('n') === 1, 'readTable');
const ref = engine.computeSync('return _home')[0];
check(ref instanceof LuaTableRef || ref instanceof Map, 'a table result');
await engine.save({ overwrite: false, leaving: false });
check(!engine.unsaved && engine.lastSaveError === null && engine.autosave && engine.store !== null, 'saved');
check(await engine.load(), 'load');
const stats: MemoryStats = engine.memoryStats();
check(stats.luaHeapBytes > 0 && stats.externalTables > 0 && stats.storage === null, 'memoryStats');
engine.collectGarbage();
try {
  await engine.compute('error("boom")');
} catch (e) {
  check(e instanceof LuaError && e.kind === 'runtime' && e.line === 1 && e.chunk === 'sample' && e.traceback !== '', 'LuaError');
}
try {
  await engine.compute('while true do end');
} catch (e) {
  check(e instanceof LuaLimitError && e.kind === 'instruction-limit', 'LuaLimitError');
}
engine.registerModule('greeting', 'return "hello " .. ...');
engine.registerModule('config', { debug: true });
check(String(engine.computeSync('return require("greeting")')[0]) === 'hello greeting', 'registerModule');
check(String(engine.computeSync('return ...', { args: ['x'] })[0]) === 'x', 'args');
try {
  await engine.compute('os.exit(3)', { printResults: false });
} catch (e) {
  check(e instanceof LuaExit && e.code === 3, 'LuaExit');
}
await engine.global.set('add', (a: number, b: number) => a + b);
await engine.compute('function twice(x) return add(x, x) end');
const twice = await engine.global.get('twice') as LuaFunction;
check((await twice(21))[0] === 42, 'a Lua function called from JS, calling a JS function');
check((await twice.callWith({ atomic: true }, 1))[0] === 2, 'callWith');
twice.dispose();
try { await twice(1); } catch (e) { check(e instanceof LuaReleasedError && e.reason === 'disposed', 'LuaReleasedError'); }
// A JS object is a userdata; a LuaTable reads and writes a table in place.
class Box {
  constructor(public n: number) {}
  grow(by: number): number { this.n += by; return this.n; }
}
const box = new Box(1);
await engine.global.set('box', box);
check((await engine.compute('return box:grow(2)'))[0] === 3 && box.n === 3, 'a method called from Lua');
check((await engine.global.get('box')) === box && engine.memoryStats().hostObjects === 1, 'the same object');
await engine.compute('t = {1, 2, sub = {}}');
const table: LuaTable = await engine.global.getTable('t');
await table.set(3, 3n);
check((await table.get(3)) === 3 && (await table.length()) === 3 && table.id === null, 'LuaTable');
const sub: LuaTable = await table.getTable('sub');
sub.dispose();
for await (const [key, value] of table) check(key !== null && value !== null, 'entries');
for await (const key of table.keys()) check(key !== null, 'keys');
table[Symbol.dispose]();
const homeTable: LuaTable = engine.getTable(engine.memoryTableId);
await homeTable.set('x', 1);
check(homeTable.id === engine.memoryTableId && (await homeTable.get('x')) === 1, 'an external LuaTable');
engine.reset();
engine.close();
check(engine.closed, 'closed');
try { engine.computeSync('return 1'); } catch (e) { check(e instanceof AbiError && !e.trapped, 'AbiError'); }

// Two writers: the second save is stale.
const shared: Store = new MemoryStore();
const a = await LuaEngine.create({ store: shared });
const b = await LuaEngine.create({ store: shared });
await a.compute('_home.by = "a"');
await a.save();
await b.compute('_home.by = "b"');
await b.save().catch((e: unknown) => check(e instanceof StoreError && e.code === 'stale', 'StoreError'));
a[Symbol.dispose]();
b.close();

// The seed's module functions.
await loadLuaWasm(undefined, { store: await defaultStore() });
check(init() === 0, 'init');
await compute('_home.test = 123');
check(await saveState(), 'saveState');
check(await loadState(), 'loadState');
check(getMemoryStats().memoryTableId === getEngine().memoryTableId, 'seed functions');
getEngine().close();
console.log('sample ok');
