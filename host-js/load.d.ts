/**
 * Where the Lua module comes from: a compiled module, its bytes, a `Response` (or a promise of
 * one), a `URL`, or a string (a URL in a browser; a file path or URL under Node).
 */
export type WasmSource =
  | WebAssembly.Module | ArrayBuffer | ArrayBufferView
  | Response | PromiseLike<Response> | URL | string;

/** dist/lua.wasm next to host-js/, used when no source is given. */
export const DEFAULT_WASM_URL: URL;

/** True under Node. */
export const isNode: boolean;

/** Compiles the Lua module; no source means `DEFAULT_WASM_URL`, compiled once and shared. */
export function loadModule(source?: WasmSource | null): Promise<WebAssembly.Module>;
