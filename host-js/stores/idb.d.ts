import type { Store, Snapshot, Batch } from './store.js';

export interface IdbStoreOptions {
  /** Database name (default `LuaPersistentDB`). */
  name?: string;
  /** Object store name (default `externalTables`). */
  storeName?: string;
  /** Ms the engine waits for a load or save (default 60 000; 0: none). */
  timeout?: number;
  /** Called when another tab or engine saved this database. */
  onchange?: ((event: { generation: number }) => void) | null;
}

/** Keeps the state in IndexedDB (browsers); saves are transactions under a Web Lock. */
export class IdbStore implements Store {
  constructor(options?: IdbStoreOptions);
  name: string;
  storeName: string;
  timeout: number;
  onchange: ((event: { generation: number }) => void) | null;
  /** `navigator.storage.estimate()` as of the last load or save, or null. */
  storage: { usage: number; quota: number } | null;
  /** Cumulative counts of what saves wrote. */
  stats: { saves: number; puts: number; deletes: number; bytesWritten: number; records: number };
  describe(): string;
  /** Asks the browser to keep this origin's data under storage pressure; resolves to whether it will. */
  persist(): Promise<boolean>;
  load(): Promise<Snapshot | null>;
  save(batch: Batch): Promise<number>;
  /** Deletes every record. */
  clear(): Promise<void>;
  /** Closes the connection (it re-opens on the next call) and stops listening to other tabs. */
  close(): void;
}
