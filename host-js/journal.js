// The undo record of an atomic run. It exists only while such a run is active (see
// `ExternalTables.journal`), so ordinary runs pay one null check per write.

/**
 * What the external tables looked like before an atomic run touched them: for each key, its
 * first value (or undefined when it was absent) and whether it was already marked changed. A
 * table is not tidied while a journal is active (see `Table.tidy`), so a deleted key keeps its
 * place and putting it back leaves iteration order as it was.
 */
export class Journal {
  /** @param {import('./tables.js').ExternalTables} tables */
  constructor(tables) {
    this.tables = tables;
    /** @type {Map<number, Map<number|string, unknown>>} compact values by table and Map key */
    this.before = new Map();
    /** Keys the run marked changed that were not marked before it. @type {Array<[number, number|string]>} */
    this.marked = [];
  }

  /** Called when Map key `k` of table `id` changes; `old` is the compact value it had, if any. */
  noteWrite(id, k, old) {
    let keys = this.before.get(id);
    if (!keys) { keys = new Map(); this.before.set(id, keys); }
    if (keys.has(k)) return;
    keys.set(k, old);
    if (!this.tables.isMarked(id, k)) this.marked.push([id, k]);
  }

  /** Puts every touched key back. The tables must no longer point at this journal. */
  undo() {
    const tables = this.tables;
    for (const [id, keys] of this.before) {
      const t = tables.table(id);
      for (const [k, old] of keys) {
        const now = old === undefined ? t.remove(k) : t.put(k, old);
        if (now !== undefined) tables.forget(id, k, now);
        if (old !== undefined) tables.count(id, k, old);
      }
      // Tables the run created end up empty: drop them as if they never existed.
      if (t.size === 0) tables.tables.delete(id);
    }
    for (const [id, k] of this.marked) tables.unmark(id, k);
  }
}
