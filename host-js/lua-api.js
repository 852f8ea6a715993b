// The API of browser.js for code that runs unchanged in a browser and in Node (the playground,
// the seed's commands, the tests): under Node it also reads the module from a file path and
// makes the seed functions keep their state in a directory. Static imports stay free of
// `node:*`, so a browser loads this file as it is.

import { isNode } from './load.js';
import { nodeOnly } from './platform.js';

export * from './browser.js';

if (isNode) {
  nodeOnly.readFile = async (path) => (await import('node:fs/promises')).readFile(path);
  nodeOnly.io = () => import('./node-io.js');
  nodeOnly.defaultStore = async () => {
    const { FileStore } = await import('./stores/file.js');
    return new FileStore(process.env.LUA_PERSIST_STATE || '.state');
  };
}
