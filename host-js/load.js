// Turns whatever the caller hands over into a compiled WebAssembly.Module. Names no `node:*`
// module, so browsers (and their bundlers) can load this file; under Node, file paths and
// file: URLs are read by `nodeOnly.readFile`, which lua-api.js installs.

import { AbiError } from './errors.js';
import { nodeOnly } from './platform.js';

/** Where the module lives when the caller gives nothing: dist/lua.wasm next to host-js/. */
export const DEFAULT_WASM_URL = new URL('../dist/lua.wasm', import.meta.url);

/** True under Node (and not in a browser that happens to define `process`). */
export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'
  && typeof window === 'undefined';

let defaultModule = null;

/**
 * Compiles the Lua module from `source`: a `WebAssembly.Module`, bytes (ArrayBuffer or a
 * typed array), a `Response` (or a promise of one), a `URL`, or a string (URL in a browser;
 * file path or URL under Node). No source means `DEFAULT_WASM_URL`, compiled once and shared.
 * @returns {Promise<WebAssembly.Module>}
 */
export async function loadModule(source) {
  if (source === undefined || source === null) {
    // Under Node, $LUA_PERSIST_WASM names another module file (handy for testing builds).
    const override = isNode ? process.env.LUA_PERSIST_WASM : undefined;
    defaultModule ??= compile(override || DEFAULT_WASM_URL).catch((e) => { defaultModule = null; throw e; });
    return defaultModule;
  }
  return compile(await source);
}

async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  // Before `Response`: under Node the first look at that global loads all of fetch (~20-50 ms).
  if (source instanceof URL || typeof source === 'string') return compile(await readUrl(source));
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new AbiError(`cannot load the Lua module: HTTP ${source.status} for ${source.url}`);
    return WebAssembly.compile(await source.arrayBuffer());
  }
  throw new AbiError('expected a WebAssembly.Module, bytes, a Response, a URL or a path');
}

async function readUrl(source) {
  if (isNode) {
    const isUrl = source instanceof URL || /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || source.startsWith('file:');
    const url = isUrl ? new URL(source) : null;
    if (!url || url.protocol === 'file:') {
      const where = url?.pathname ?? source;
      if (!nodeOnly.readFile) {
        throw new AbiError(`cannot read the Lua module ${where}: under Node, import lua-persist's Node ` +
          "entry ('lua-persist', or host-js/lua-api.js), or pass the module's bytes");
      }
      try {
        return await nodeOnly.readFile(url ?? source);
      } catch (e) {
        throw new AbiError(`cannot read the Lua module ${where}: ${e.message}` +
          (e.code === 'ENOENT' ? ' (build it with `make build`)' : ''), { cause: e });
      }
    }
    return fetch(url);
  }
  const base = typeof document !== 'undefined' ? document.baseURI : undefined;
  return fetch(new URL(source, base));
}
