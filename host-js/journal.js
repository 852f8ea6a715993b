// The undo record of an atomic run. It exists only while such a run is active (see
// `ExternalTables.journal`), so ordinary runs pay one null check per write.

/**
 * What the external tables looked like before an atomic run touched them: for each key, its
 * first entry (or undefined when it was absent) and whether it was already marked changed, and
 * for each table that lost a key, its key order, so that undoing leaves iteration order and the
 * change record (what the next save writes) as they were.
 */
export class Journal {
  /** @param {import('./tables.js').ExternalTables} tables */
  constructor(tables) {
    this.tables = tables;
    /** @type {Map<number, Map<number|string, import('./tables.js').Entry|undefined>>} */
    this.before = new Map();
    /** @type {Map<number, Array<number|string>>} */
    this.orders = new Map();
    /** Keys the run marked changed that were not marked before it. @type {Array<[number, number|string]>} */
    this.marked = [];
  }

  /** Called before Map key `k` of table `id` changes; `old` is its current entry, if any. */
  noteWrite(id, k, old) {
    let keys = this.before.get(id);
    if (!keys) { keys = new Map(); this.before.set(id, keys); }
    if (keys.has(k)) return;
    keys.set(k, old);
    if (!this.tables.dirty.get(id)?.has(k)) this.marked.push([id, k]);
  }

  /** Called before `k` is deleted from `table` (the Map of table `id`). */
  noteDelete(id, table, k, old) {
    this.noteWrite(id, k, old);
    // Putting the key back would append it: keep the order once, before the first key that
    // was there before the run leaves. Keys the run added and removed again need no order.
    if (this.before.get(id).get(k) !== undefined && !this.orders.has(id)) this.orders.set(id, [...table.keys()]);
  }

  /** Puts every touched key back. The tables must no longer point at this journal. */
  undo() {
    const tables = this.tables;
    for (const [id, keys] of this.before) {
      const t = tables.table(id);
      for (const [k, old] of keys) {
        if (old) { tables.putEntry(id, old); continue; }
        const now = t.get(k);
        if (now) { t.delete(k); tables.forget(id, now); }
      }
      const order = this.orders.get(id);
      if (order) {
        const ordered = new Map();
        for (const k of order) { const e = t.get(k); if (e) ordered.set(k, e); }
        tables.tables.set(id, ordered);
      }
      // Tables the run created end up empty: drop them as if they never existed.
      if (t.size === 0) tables.tables.delete(id);
      tables.iterators.delete(id);
    }
    for (const [id, k] of this.marked) {
      const dirty = tables.dirty.get(id);
      dirty?.delete(k);
      if (dirty?.size === 0) tables.dirty.delete(id);
    }
  }
}
