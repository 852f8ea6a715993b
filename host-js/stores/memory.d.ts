import type { Store, Snapshot, Batch } from './store.js';

/** Records in Maps: survives engine restarts and resets, not the process. */
export class MemoryStore implements Store {
  /** `timeout`: ms the engine waits for a save (0: none). */
  constructor(options?: { timeout?: number });
  timeout: number;
  /** Bumped by every save. */
  generation: number;
  /** What saves wrote, cumulatively. */
  stats: { saves: number; puts: number; deletes: number; bytesWritten: number };
  load(): Promise<Snapshot | null>;
  save(batch: Batch): Promise<number>;
  /** Forgets everything. */
  clear(): Promise<void>;
}
