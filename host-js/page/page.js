// The playground: an editor, output, a live `_home` inspector and persistence through
// IndexedDB. Plain DOM, no framework. `document.body.dataset.state` is 'loading', 'idle' or
// 'running' (the browser tests wait on it).

import { LuaEngine, LuaError, LuaLimitError, StoreError } from '../lua-api.js';
import { IdbStore } from '../stores/idb.js';
import { decodeValue, LuaTableRef } from '../codec.js';
import { luaString } from '../results.js';

const $ = (id) => document.getElementById(id);
const ui = {
  code: $('code'), gutter: $('gutter'), output: $('output'), error: $('error'), home: $('home'),
  status: $('status'), memory: $('memory'), run: $('run'), stop: $('stop'), save: $('save'),
  load: $('load'), reset: $('reset'), autosave: $('autosave'), ticker: $('ticker'),
};
const ENTRIES_SHOWN = 100;
let engine = null;
let running = null;

function setState(state, text) {
  document.body.dataset.state = state;
  if (text !== undefined) ui.status.textContent = text;
  ui.run.disabled = state !== 'idle';
  ui.stop.disabled = state !== 'running';
  for (const b of [ui.save, ui.load, ui.reset]) b.disabled = state !== 'idle';
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function showMemory() {
  const s = engine.memoryStats();
  ui.memory.textContent = `linear memory ${formatBytes(s.linearMemoryBytes)} (Lua heap ${formatBytes(s.luaHeapBytes)})` +
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

// One table level; nested tables open lazily so a 10,000-entry _home stays cheap to show.
function renderTable(id, container) {
  const t = engine.tables.tables.get(id);
  container.replaceChildren();
  if (!t || t.size === 0) { container.append(span('more', '(empty)')); return; }
  let n = 0;
  for (const { key, value } of t.values()) {
    if (n++ === ENTRIES_SHOWN) { container.append(span('more', `… ${t.size - ENTRIES_SHOWN} more entries`)); break; }
    const k = decodeValue(key);
    const v = decodeValue(value);
    const label = typeof k === 'string' ? k : `[${luaString(k)}]`;
    if (v instanceof LuaTableRef) {
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.append(span('k', label), ` = table #${v.id} (${engine.tables.size(v.id)})`);
      const body = document.createElement('div');
      details.append(summary, body);
      details.addEventListener('toggle', () => { if (details.open) renderTable(v.id, body); });
      container.append(details);
    } else {
      const row = document.createElement('div');
      row.className = 'entry';
      row.append(span('k', label), ' = ', typeof v === 'string' ? span('s', JSON.stringify(v)) : luaString(v));
      container.append(row);
    }
  }
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

function refresh() {
  renderTable(engine.memoryTableId, ui.home);
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
    if (results.length) {
      const r = document.createElement('span');
      r.className = 'result';
      r.textContent = `→ ${results}\n`;
      ui.output.append(r);
    }
    setState('idle', `ok in ${(performance.now() - started).toFixed(0)} ms`);
  } catch (e) {
    if (e.output) ui.output.textContent = e.output;
    if (e.name === 'AbortError') setState('idle', 'stopped');
    else { showError(e); setState('idle', e instanceof LuaLimitError ? 'limit reached' : 'error'); }
  } finally {
    clearInterval(timer);
    ui.ticker.textContent = '';
    running = null;
    if (engine.lastSaveError) showError(engine.lastSaveError);
    refresh();
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
}

async function start() {
  setState('loading', 'loading…');
  ui.code.value = localStorage.getItem('lua-persist.code') ?? ui.code.value;
  ui.autosave.checked = localStorage.getItem('lua-persist.autosave') === '1';
  renderGutter();
  const store = new IdbStore();
  // Every chunk's print output also streams into the pane as it is flushed.
  const onOutput = (bytes) => { ui.output.append(new TextDecoder().decode(bytes)); };
  let restoredError = null;
  try {
    engine = await LuaEngine.create({ store, autosave: ui.autosave.checked, onOutput, onError: showError });
  } catch (e) {
    if (!(e instanceof StoreError)) throw e;
    restoredError = e;
    engine = await LuaEngine.create({ store, restore: false, autosave: false, onOutput, onError: showError });
  }
  // onOutput already fills the pane; drop the copy the results carry.
  window.playground = { engine, run };
  setState('idle', restoredError ? 'saved state could not be loaded' : 'ready');
  if (restoredError) showError(restoredError);
  refresh();
}

ui.run.addEventListener('click', run);
ui.stop.addEventListener('click', () => running?.abort());
ui.save.addEventListener('click', () => action('save', async () => { await engine.save({ overwrite: true }); return 'saved'; }));
ui.load.addEventListener('click', () => action('load', async () => (await engine.load()) ? 'loaded' : 'nothing saved yet'));
ui.reset.addEventListener('click', () => action('reset', async () => {
  engine.reset();
  if (engine.autosave) await engine.save({ overwrite: true });
  return 'fresh state';
}));
ui.autosave.addEventListener('change', () => {
  engine.autosave = ui.autosave.checked;
  localStorage.setItem('lua-persist.autosave', ui.autosave.checked ? '1' : '0');
});
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
