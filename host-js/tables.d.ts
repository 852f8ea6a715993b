/** One stored entry: its encoded key and value (the ABI's bytes). */
export class Entry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * The external tables of one engine, kept across module restarts. A host may subclass it and
 * override `putEntry`/`delete` to observe every write (pass the instance as `tables`).
 */
export class ExternalTables {
  constructor();
  /** Every table by id; each maps an internal key to its Entry. */
  tables: Map<number, Map<number | string, Entry>>;
  /** Encoded bytes held (keys + values). */
  bytes: number;
  /** Number of tables that hold at least one entry. */
  readonly tableCount: number;
  size(id: number): number;
  get(id: number, key: Uint8Array): Uint8Array | undefined;
  set(id: number, key: Uint8Array, value: Uint8Array): void;
  putEntry(id: number, entry: Entry): void;
  delete(id: number, key: Uint8Array): void;
  /** Ids of the upvalue cells (tables of captured variables) stored functions referred to. */
  cells: Set<number>;
  /**
   * Drops (without `delete` calls) the cells no stored function refers to any more and
   * returns their ids; the engine calls it between runs and tells the module.
   */
  collectCells(): number[];
}
