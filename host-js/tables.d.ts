/** One stored entry: its encoded key and value (the ABI's bytes). */
export class Entry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/**
 * One external table, read like a Map from an internal key to its Entry (entries are made on
 * demand). Keys 1..n are kept in an array part; iteration gives them first, by index, then the
 * other keys in insertion order.
 */
export class Table {
  readonly size: number;
  get(k: number | string): Entry | undefined;
  has(k: number | string): boolean;
  keys(): IterableIterator<number | string>;
  values(): IterableIterator<Entry>;
  entries(): IterableIterator<[number | string, Entry]>;
  [Symbol.iterator](): IterableIterator<[number | string, Entry]>;
}

/**
 * The external tables of one engine, kept across module restarts. A host may subclass it and
 * override `putEntry`/`delete` to observe every write (pass the instance as `tables`).
 */
export class ExternalTables {
  constructor();
  /** Every table by id. */
  tables: Map<number, Table>;
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
