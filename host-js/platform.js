// What only Node can do, for the modules a browser loads too. Those never name a `node:*`
// module, not even in a dynamic import, because browser bundlers fail on one; lua-api.js
// fills these in when it runs under Node.

export const nodeOnly = {
  /**
   * Reads a file path or file: URL (the module, under Node).
   * @type {null | ((path: string | URL) => Promise<Uint8Array>)}
   */
  readFile: null,
  /**
   * The store of the seed functions when none is given.
   * @type {null | (() => Promise<object>)}
   */
  defaultStore: null,
  /**
   * Node's side of `io` and `os` (node-io.js): standard input and real files.
   * @type {null | (() => Promise<object>)}
   */
  io: null,
};
