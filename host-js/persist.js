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
 * @param {Map<number, Set<string>>} changes from `tables.takeChanges()`
 */
export function buildBatch(tables, changes, persisted, { memoryTableId, nextTableId, stateRestored }) {
  const reachable = reachableTables(tables, memoryTableId);
  const replace = persisted === null;
  const puts = [];
  const deletes = [];
  const dropTables = [];
  for (const id of reachable) {
    const t = tables.tables.get(id);
    if (replace || !persisted.has(id)) {
      if (t) for (const { key, value } of t.values()) puts.push([id, key, value]);
      continue;
    }
    const dirty = changes.get(id);
    if (!dirty) continue;
    for (const k of dirty) {
      const e = t?.get(k);
      if (e) puts.push([id, e.key, e.value]);
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
 * damaged or foreign state is refused before anything in memory changes.
 * @returns {Promise<{metadata: object, tables: Map<number, Map<number|string, Entry>>}>}
 */
export async function readSnapshot(snapshot, where) {
  const damaged = (why) => new StoreError(`the saved state in ${where} is damaged or foreign (${why}); ` +
    'it was left untouched: load another state, or save with {overwrite: true} to replace it');
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
  for (const id of ids) out.set(id, new Map());
  for await (const item of snapshot.entries) {
    const id = item[0];
    if (!known.has(id)) throw damaged(`an entry belongs to table ${id}, which is not in tableIds`);
    let entry = item[1];
    if (entry instanceof Entry) {
      // A store that checksums its data hands over entries as they were saved.
      if (typeof entry.k === 'string' && entry.k.charCodeAt(0) === Tag.NIL) throw damaged(`table ${id} has a nil key`);
    } else {
      const [, key, value] = item;
      for (const bytes of [key, value]) {
        if (!(bytes instanceof Uint8Array)) throw damaged(`an entry of table ${id} is not bytes`);
        try { checkValue(bytes); } catch (e) { throw damaged(`table ${id}: ${e.message}`); }
      }
      if (key[0] === Tag.NIL) throw damaged(`table ${id} has a nil key`);
      const k = keyString(key);
      entry = Entry.of(k, value);
    }
    for (const ref of [entry.keyRef(), ...entry.valueRefs()]) {
      if (ref >= 0 && ref !== IO_TABLE_ID && !known.has(ref)) throw damaged(`table ${id} refers to missing table ${ref}`);
    }
    out.get(id).set(entry.k, entry);
  }
  return { metadata: m, tables: out };
}

function isId(n) { return Number.isInteger(n) && n >= 1 && n <= 0xffffffff; }
