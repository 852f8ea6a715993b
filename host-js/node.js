// The package's entry for Node: the API of lua-api.js plus FileStore.

export * from './lua-api.js';
export { FileStore } from './stores/file.js';
