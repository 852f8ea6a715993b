// Turning the live external tables into store batches, and store snapshots back into tables.
// The store interface itself is documented in docs/stores.md.

import { keyString, keyBytes, Entry } from './tables.js';
import { Tag, checkValue } from './codec.js';
import { StoreError } from './errors.js';

/** Written into every metadata record so a foreign or future state is recognised. Version 2
 * stores functions in our VM's bytecode; a version 1 state (the piccolo engine) loads too:
 * its scalars and tables unchanged, its functions refused when read. */
export const FORMAT = 'lua-persist/2';
const READABLE_FORMATS = ['lua-persist/1', FORMAT];

/** Id of `_io`, never persisted. */
export const IO_TABLE_ID = 0;

/** Ids of the tables reachable from `rootId` through TABLE_REF values and keys. */
export function reachableTables(tables, rootId) {
  const seen = new Set([rootId]);
  const todo = [rootId];
  while (todo.length) {
    for (const ref of tables.references(todo.pop())) {
      if (ref !== IO_TABLE_ID && !seen.has(ref)) { seen.add(ref); todo.push(ref); }
    }
  }
  return seen;
}

/**
 * The batch that brings a store from `persisted` (ids it holds, or null when its content is
 * unrelated to these tables) to the current state.
 * @param {import('./tables.js').ExternalTables} tables
 * @param {{keys: Map<number, Set<number|string>>, rewritten: Set<number>}} changes from `tables.takeChanges()`
 */
export function buildBatch(tables, changes, persisted, { memoryTableId, nextTableId, stateRestored }) {
  const reachable = reachableTables(tables, memoryTableId);
  const replace = persisted === null;
  const puts = [];
  const deletes = [];
  const dropTables = [];
  for (const id of reachable) {
    const t = tables.tables.get(id);
    if (replace || !persisted.has(id) || changes.rewritten.has(id)) {
      // A table saved whole replaces what the store holds of it (batches drop before they put).
      if (!replace && persisted.has(id)) dropTables.push(id);
      if (t) for (const entry of t.values()) puts.push([id, entry]);
      continue;
    }
    const dirty = changes.keys.get(id);
    if (!dirty) continue;
    for (const k of dirty) {
      const e = t?.get(k);
      if (e) puts.push([id, e]);
      else deletes.push([id, keyBytes(k)]);
    }
  }
  if (!replace) for (const id of persisted) if (!reachable.has(id)) dropTables.push(id);
  const tableIds = [...reachable].sort((a, b) => a - b);
  const metadata = {
    memoryTableId, nextTableId, tableCount: tableIds.length, tableIds,
    savedAt: new Date().toISOString(), stateRestored, format: FORMAT,
  };
  return { batch: { metadata, replace, puts, deletes, dropTables }, reachable };
}

/**
 * Checks a snapshot from `store.load()` and collects its entries per table, so that a
 * damaged or foreign state is refused before anything in memory changes. A snapshot holds
 * `entries` (`[id, key, value]` bytes), or `tables` (Map id -> Map key -> Entry) from a
 * store that keeps the engine's own entry form and checks its data itself.
 * @returns {Promise<{metadata: object, tables: Map<number, Map<number|string, Entry>>,
 *   accounts: Map<number, {bytes: number, refs: Map<number, number>}>, cells: Set<number>}>}
 *   `accounts`: per table, what `ExternalTables.adopt` would otherwise count again; `cells`:
 *   the upvalue cells its stored functions refer to
 */
export async function readSnapshot(snapshot, where) {
  const damaged = (why) => new StoreError(`the saved state in ${where} is damaged or foreign (${why}); ` +
    'it was left untouched: load another state, or save with {overwrite: true} to replace it', { code: 'damaged' });
  const m = snapshot?.metadata;
  if (!m || typeof m !== 'object') throw damaged('no metadata record');
  if (m.format !== undefined && !READABLE_FORMATS.includes(m.format)) throw damaged(`format ${JSON.stringify(m.format)}, expected ${FORMAT}`);
  if (m.format === undefined) throw damaged('metadata has no format field: not written by lua-persist');
  const ids = m.tableIds;
  if (!isId(m.memoryTableId) || !isId(m.nextTableId) || !Array.isArray(ids) || !ids.every(isId)) {
    throw damaged('metadata fields memoryTableId, nextTableId or tableIds are invalid');
  }
  const known = new Set(ids);
  if (!known.has(m.memoryTableId)) throw damaged('tableIds does not contain memoryTableId');
  if (ids.some((id) => id >= m.nextTableId)) throw damaged('a table id is not below nextTableId');
  const out = new Map();
  const accounts = new Map();
  const cells = new Set();
  for (const id of ids) { out.set(id, new Map()); accounts.set(id, { bytes: 0, refs: new Map() }); }
  const count = (id, entry) => {
    const account = accounts.get(id);
    account.bytes += entry.keyLength + entry.valueLength;
    const note = (ref) => {
      if (ref === IO_TABLE_ID) return;
      if (!known.has(ref)) throw damaged(`table ${id} refers to missing table ${ref}`);
      account.refs.set(ref, (account.refs.get(ref) ?? 0) + 1);
    };
    const keyRef = entry.keyRef();
    if (keyRef >= 0) note(keyRef);
    for (const ref of entry.valueRefs()) note(ref);
    for (const cell of entry.cellRefs()) cells.add(cell);
  };
  if (snapshot.tables) {
    for (const [id, t] of snapshot.tables) {
      if (!known.has(id)) {
        if (t.size) throw damaged(`entries belong to table ${id}, which is not in tableIds`);
        continue;
      }
      for (const entry of t.values()) {
        if (typeof entry.k === 'string' && entry.k.charCodeAt(0) === Tag.NIL) throw damaged(`table ${id} has a nil key`);
        count(id, entry);
      }
      out.set(id, t);
    }
    return { metadata: m, tables: out, accounts, cells };
  }
  for await (const item of snapshot.entries) {
    const id = item[0];
    if (!known.has(id)) throw damaged(`an entry belongs to table ${id}, which is not in tableIds`);
    const [, key, value] = item;
    for (const bytes of [key, value]) {
      if (!(bytes instanceof Uint8Array)) throw damaged(`an entry of table ${id} is not bytes`);
      try { checkValue(bytes); } catch (e) { throw damaged(`table ${id}: ${e.message}`); }
    }
    if (key[0] === Tag.NIL) throw damaged(`table ${id} has a nil key`);
    const k = keyString(key);
    const entry = Entry.of(k, value);
    const t = out.get(id);
    const old = t.get(k);
    if (old) accounts.get(id).bytes -= old.keyLength + old.valueLength;
    count(id, entry);
    t.set(k, entry);
  }
  return { metadata: m, tables: out, accounts, cells };
}

function isId(n) { return Number.isInteger(n) && n >= 1 && n <= 0xffffffff; }
