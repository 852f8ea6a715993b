import type { Store, Snapshot, Batch } from './store.js';

export interface FileStoreOptions {
  /** false trades crash safety for speed (default true). */
  fsync?: boolean;
  /** Segments in the log before a save compacts it (default 16). */
  maxSegments?: number;
  /** Ms the engine waits for a load or save (default 0: none). */
  timeout?: number;
  /** Ms to wait for another writer's lock (default 10 000). */
  lockTimeout?: number;
  /** Age in ms after which a lock whose owner cannot be checked is broken (default 60 000). */
  staleLockMs?: number;
}

/** Stores the state in a directory (Node), atomically: temp file, fsync, rename. */
export class FileStore implements Store {
  /** `dir` is created on the first save. */
  constructor(dir: string, options?: FileStoreOptions);
  /** The directory, resolved. */
  dir: string;
  fsync: boolean;
  maxSegments: number;
  timeout: number;
  lockTimeout: number;
  staleLockMs: number;
  /** Cumulative bytes written and compactions. */
  stats: { saves: number; bytesWritten: number; compactions: number };
  describe(): string;
  load(): Promise<Snapshot | null>;
  save(batch: Batch): Promise<number>;
  /** Removes the state (the directory's MANIFEST and segments). */
  clear(): Promise<void>;
}
