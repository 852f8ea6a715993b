export * from './lua-api.js';
export { FileStore } from './stores/file.js';
export type { FileStoreOptions } from './stores/file.js';
