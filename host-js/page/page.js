// The playground: an editor, output, a live `_home` inspector and persistence through
// IndexedDB. Plain DOM, no framework. `document.body.dataset.state` is 'loading', 'idle' or
// 'running'; `dataset.save` is 'saved', 'pending' (an autosave is coming) or 'unsaved' (only
// Save will keep the changes). The browser tests wait on both.

import { LuaEngine, LuaError, LuaLimitError, StoreError, LuaTableRef } from '../lua-api.js';
import { IdbStore } from '../stores/idb.js';
import { decodeValue, Tag } from '../codec.js';
import { keyBytes } from '../tables.js';
import { luaString } from '../results.js';

const $ = (id) => document.getElementById(id);
const ui = {
  code: $('code'), gutter: $('gutter'), output: $('output'), error: $('error'), home: $('home'),
  status: $('status'), memory: $('memory'), run: $('run'), stop: $('stop'), save: $('save'),
  load: $('load'), reset: $('reset'), autosave: $('autosave'), unsaved: $('unsaved'),
  ticker: $('ticker'), resetDialog: $('reset-dialog'),
};
const ENTRIES_SHOWN = 100;
// Runs in quick succession are saved once, this long after the last one.
const AUTOSAVE_DELAY_MS = 1000;
let engine = null;
let running = null;
let saveTimer = null;

function setState(state, text) {
  document.body.dataset.state = state;
  if (text !== undefined) ui.status.textContent = text;
  ui.run.disabled = state !== 'idle';
  ui.stop.disabled = state !== 'running';
  for (const b of [ui.save, ui.load, ui.reset]) b.disabled = state !== 'idle';
}

function setSaveState(state) {
  document.body.dataset.save = state;
  ui.unsaved.hidden = state !== 'unsaved';
}

// After anything that may have changed _home: schedule an autosave, or mark the changes unsaved.
function noteChanges() {
  cancelAutosave();
  if (!engine.unsaved) setSaveState('saved');
  else if (!ui.autosave.checked) setSaveState('unsaved');
  else {
    saveTimer = setTimeout(autosave, AUTOSAVE_DELAY_MS);
    // Only while a save is pending: some browsers keep no back/forward cache of a page that
    // listens for beforeunload.
    addEventListener('beforeunload', flushAutosave);
    setSaveState('pending');
  }
}

function cancelAutosave() {
  clearTimeout(saveTimer);
  saveTimer = null;
  removeEventListener('beforeunload', flushAutosave);
}

// Leaving the page (pagehide is the only event on some mobile browsers and on back/forward
// navigation): write a pending autosave now, as a save that issues every write before the
// page can go (see LuaEngine.save).
function flushAutosave() {
  if (saveTimer !== null) autosave({ leaving: true });
}

async function autosave({ leaving = false } = {}) {
  cancelAutosave();
  try {
    await engine.save({ leaving });
  } catch (e) {
    showError(e);
    setSaveState('unsaved');
    return;
  }
  // A run that ended during the save has scheduled its own.
  if (saveTimer === null) noteChanges();
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function showMemory() {
  const s = engine.memoryStats();
  ui.memory.dataset.heap = String(s.luaHeapBytes);
  ui.memory.textContent = `linear memory ${formatBytes(s.linearMemoryBytes)} ` +
    `(Lua heap ${formatBytes(s.luaHeapBytes)} of ${formatBytes(s.luaHeapLimit)})` +
    ` · external data ${formatBytes(s.externalBytes)} in ${plural(s.externalEntries, 'entry', 'entries')}, ` +
    plural(s.externalTables, 'table', 'tables');
}

function renderGutter(badLine = null) {
  const lines = ui.code.value.split('\n').length;
  ui.gutter.replaceChildren(...Array.from({ length: lines }, (_, i) => {
    const span = document.createElement('span');
    span.textContent = `${i + 1}\n`;
    if (i + 1 === badLine) span.className = 'bad';
    return span;
  }));
  ui.gutter.scrollTop = ui.code.scrollTop;
}

function showError(error) {
  ui.error.hidden = false;
  // `editor:3: msg` becomes `line 3: msg`; locations in other chunks stay as Lua gave them.
  const editor = error instanceof LuaError && error.chunk === 'editor';
  const message = editor ? `line ${error.line}: ${error.message.replace(/^editor:\d+: ?/, '')}` : error.message;
  ui.error.textContent = `${error.name}: ${message}`;
  ui.error.dataset.line = editor ? String(error.line) : '';
  renderGutter(editor ? error.line : null);
}

function clearError() {
  ui.error.hidden = true;
  ui.error.textContent = '';
  renderGutter();
}

const isTable = (v) => v instanceof LuaTableRef || v instanceof Map || Array.isArray(v);
const ASCII = /^[\x00-\x7f]*$/;

// The Lua key a Map key of tables.js stands for. ASCII strings, by far the most common keys,
// are read straight from it: decoding every key of a large table would take seconds.
function luaKey(k) {
  if (typeof k === 'number') return k;
  if (k.charCodeAt(0) === Tag.STRING && ASCII.test(k)) return k.slice(5);
  return decodeValue(keyBytes(k));
}

/**
 * A table to show, as `{size, keys, value}`: `keys` yields `[luaKey, ref]` and `value(ref)`
 * decodes one value. External tables are read live; returned tables are already decoded.
 */
function tableView(table) {
  if (table instanceof LuaTableRef) {
    const t = engine.tables.tables.get(table.id) ?? new Map();
    return {
      size: t.size,
      keys: (function* keys() { for (const k of t.keys()) yield [luaKey(k), k]; })(),
      value: (k) => decodeValue(t.get(k).value),
    };
  }
  const entries = Array.isArray(table) ? table.map((v, i) => [i + 1, v]) : [...table];
  return { size: entries.length, keys: entries, value: (v) => v };
}

// Key order for showing tables: numbers, then strings, then booleans, then the rest as the
// table gives them. A store need not give entries back in the order they were written, so
// this is what keeps the inspector the same across reloads.
function keyRank(k) {
  if (typeof k === 'number' || typeof k === 'bigint') return 0;
  if (typeof k === 'string') return 1;
  return typeof k === 'boolean' ? 2 : 3;
}

function compareKeys(a, b) {
  const ra = keyRank(a);
  const rb = keyRank(b);
  if (ra !== rb || ra === 3) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

// The `n` first `[key, ref]` pairs in key order, in one pass: a million-entry _home stays quick.
function firstKeys(pairs, n) {
  const out = [];
  for (const pair of pairs) {
    if (out.length === n && compareKeys(pair[0], out[n - 1][0]) >= 0) continue;
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compareKeys(out[mid][0], pair[0]) <= 0) lo = mid + 1; else hi = mid;
    }
    out.splice(lo, 0, pair);
    if (out.length > n) out.pop();
  }
  return out;
}

// The entries of a table, one level; nested tables open on demand.
function renderEntries(table, container) {
  const view = tableView(table);
  container.replaceChildren();
  if (view.size === 0) { container.append(span('more', '(empty)')); return; }
  for (const [key, ref] of firstKeys(view.keys, ENTRIES_SHOWN)) {
    const value = view.value(ref);
    const label = [span('k', typeof key === 'string' ? key : `[${luaString(key)}]`), ' = '];
    if (isTable(value)) {
      container.append(tableNode(value, label, false));
    } else {
      const row = document.createElement('div');
      row.className = 'entry';
      row.append(...label, typeof value === 'string' ? span('s', JSON.stringify(value)) : luaString(value));
      container.append(row);
    }
  }
  if (view.size > ENTRIES_SHOWN) container.append(span('more', `… ${view.size - ENTRIES_SHOWN} more entries`));
}

// A table as a <details>: `label`, what it is, and its entries, rendered whenever it opens so
// an external table shows what it holds now.
function tableNode(table, label, open) {
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  const size = tableView(table).size;
  summary.append(...label, table instanceof LuaTableRef ? `table #${table.id} (${size})` : `table (${size})`);
  const body = document.createElement('div');
  details.append(summary, body);
  details.addEventListener('toggle', () => {
    if (!details.open) body.replaceChildren();
    else if (!body.hasChildNodes()) renderEntries(table, body);
  });
  if (open) {
    renderEntries(table, body);
    details.open = true;
  }
  return details;
}

// `→ v1	v2`, with a returned table open one level, as the inspector shows _home.
function renderResults(values) {
  const line = span('result', '→ ');
  values.forEach((v, i) => {
    if (i > 0) line.append('\t');
    if (isTable(v)) {
      const node = tableNode(v, [], true);
      node.classList.add('tree');
      line.append(node);
    } else {
      line.append(luaString(v));
    }
  });
  line.append('\n');
  return line;
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

function refresh() {
  renderEntries(new LuaTableRef(engine.memoryTableId), ui.home);
  showMemory();
}

async function run() {
  if (document.body.dataset.state !== 'idle') return;
  clearError();
  ui.output.textContent = '';
  setState('running', 'running…');
  localStorage.setItem('lua-persist.code', ui.code.value);
  // Each run's timer starts from zero and is cleared when the run ends (the status keeps its time).
  const started = performance.now();
  let ticks = 0;
  const tick = () => {
    ui.ticker.dataset.ticks = String(ticks);
    ui.ticker.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s`;
  };
  tick();
  const timer = setInterval(() => { ticks++; tick(); }, 50);
  running = new AbortController();
  try {
    const results = await engine.compute(ui.code.value, { chunkName: '=editor', signal: running.signal });
    if (results.length) ui.output.append(renderResults(results));
    setState('idle', `ok in ${(performance.now() - started).toFixed(0)} ms`);
  } catch (e) {
    if (e.output) ui.output.textContent = e.output;
    if (e.name === 'AbortError') setState('idle', 'stopped');
    else { showError(e); setState('idle', e instanceof LuaLimitError ? 'limit reached' : 'error'); }
  } finally {
    clearInterval(timer);
    ui.ticker.textContent = '';
    running = null;
    refresh();
    noteChanges();
  }
}

async function action(label, fn) {
  setState('running', `${label}…`);
  clearError();
  try {
    const text = await fn();
    setState('idle', text);
  } catch (e) {
    showError(e);
    setState('idle', `${label} failed`);
  }
  refresh();
  noteChanges();
}

async function start() {
  setState('loading', 'loading…');
  ui.code.value = localStorage.getItem('lua-persist.code') ?? ui.code.value;
  ui.autosave.checked = localStorage.getItem('lua-persist.autosave') !== '0';
  renderGutter();
  // Every chunk's print output streams into the pane as it is flushed; so do io.stderr and
  // warnings, as a terminal would show them.
  const onOutput = (bytes) => { ui.output.append(new TextDecoder().decode(bytes)); };
  // Another tab's save makes this tab's next save fail as stale (it keeps its changes): say so
  // now, while Load can still take the other state.
  const onchange = () => { ui.status.textContent = 'another tab saved: Load shows its state'; };
  engine = await LuaEngine.create({ store: new IdbStore({ onchange }), restore: false, onOutput, onStderr: onOutput });
  window.playground = { engine, run };
  let loadError = null;
  // A state that cannot be loaded stays untouched: the engine refuses to save over it until
  // Save or Reset (see LuaEngine.load), so autosave cannot destroy it.
  try { await engine.load(); } catch (e) { if (!(e instanceof StoreError)) throw e; loadError = e; }
  setState('idle', loadError ? 'saved state could not be loaded' : 'ready');
  if (loadError) showError(loadError);
  refresh();
  setSaveState('saved');
}

ui.run.addEventListener('click', run);
ui.stop.addEventListener('click', () => running?.abort());
ui.save.addEventListener('click', () => action('save', async () => { await engine.save({ overwrite: true }); return 'saved'; }));
ui.load.addEventListener('click', () => action('load', async () => (await engine.load()) ? 'loaded' : 'nothing saved yet'));
ui.reset.addEventListener('click', () => {
  // Escape closes the dialog without touching returnValue: clear the last answer first.
  ui.resetDialog.returnValue = '';
  ui.resetDialog.showModal();
});
ui.resetDialog.addEventListener('close', () => {
  if (ui.resetDialog.returnValue !== 'wipe') return;
  action('reset', async () => {
    engine.reset();
    await engine.save({ overwrite: true });
    return 'fresh state';
  });
});
ui.autosave.addEventListener('change', () => {
  localStorage.setItem('lua-persist.autosave', ui.autosave.checked ? '1' : '0');
  noteChanges();
});
addEventListener('pagehide', flushAutosave);
ui.code.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); }
  if (e.key === 'Tab' && !e.shiftKey) {
    e.preventDefault();
    ui.code.setRangeText('  ', ui.code.selectionStart, ui.code.selectionEnd, 'end');
    renderGutter();
  }
});
ui.code.addEventListener('input', () => renderGutter());
ui.code.addEventListener('scroll', () => { ui.gutter.scrollTop = ui.code.scrollTop; });

start().catch((e) => { setState('loading', 'failed to start'); showError(e); });

function plural(n, one, many) { return `${n} ${n === 1 ? one : many}`; }
