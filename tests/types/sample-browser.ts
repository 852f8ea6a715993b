// What a browser bundle sees: the browser entry (IdbStore, no FileStore). Type-checked only.

import { LuaEngine, IdbStore, MemoryStore, type IdbStoreOptions } from 'lua-persist';
// @ts-expect-error FileStore is only in the Node entry
import type { FileStore } from 'lua-persist';

const options: IdbStoreOptions = { name: 'my-app', timeout: 10_000, onchange: ({ generation }) => console.log(generation) };
const store = new IdbStore(options);
const persisted: boolean = await store.persist();
const lua = await LuaEngine.create({ store: persisted ? store : new MemoryStore(), autosave: true });
await lua.save({ leaving: true });
store.close();
