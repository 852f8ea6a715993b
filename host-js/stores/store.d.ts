// The interface every store implements (docs/stores.md); types only, no module behind it.

import type { Entry } from '../tables.js';

/** Anything with `load` and `save` as below can keep an engine's state. */
export interface Store {
  /** The saved state, or null when nothing was saved yet. */
  load(): Promise<Snapshot | null>;
  /** Applies a batch all or nothing; resolves to the new generation (or nothing, unchecked). */
  save(batch: Batch): Promise<number | void>;
  /** Where the state lives, for error messages. */
  describe?(): string;
  /** Ms the engine waits for a load or save; 0 or absent: as long as it takes. */
  timeout?: number;
  /** `navigator.storage.estimate()`-like figures, shown by `memoryStats().storage`. */
  storage?: { usage: number; quota: number } | null;
  clear?(): Promise<void>;
  close?(): void;
}

export interface Snapshot {
  metadata: Metadata;
  /** Bumped by every save (0: empty store). */
  generation?: number;
  /** Every saved entry. */
  entries?: Iterable<[tableId: number, key: Uint8Array, value: Uint8Array]>
    | AsyncIterable<[tableId: number, key: Uint8Array, value: Uint8Array]>;
  /** Or, from a store that keeps the engine's own entries and checks its data itself. */
  tables?: Map<number, Map<number | string, Entry>>;
}

export interface Batch {
  /** Replaces the stored metadata record. */
  metadata: Metadata;
  /** Discard everything stored before applying the rest. */
  replace: boolean;
  /** Delete every entry of these tables (no longer reachable, or put whole in `puts`). */
  dropTables: number[];
  deletes: [tableId: number, key: Uint8Array][];
  puts: [tableId: number, entry: { key: Uint8Array; value: Uint8Array }][];
  /** The generation the engine's state derives from (null: unknown). */
  base: number | null;
  /** Replace a damaged or newer stored state anyway. */
  overwrite: boolean;
  /** The page is going away: issue the writes before returning (a hint). */
  leaving: boolean;
}

export interface Metadata {
  /** The table `_home` (alias `Memory`) points at. */
  memoryTableId: number;
  /** The module's id counter. */
  nextTableId: number;
  tableCount: number;
  tableIds: number[];
  /** ISO time. */
  savedAt: string;
  stateRestored: boolean;
  format: string;
}
