#!/usr/bin/env node
// A small static server for the playground: `node host-js/serve.js [--port N]`. Listens on
// 127.0.0.1 only, serves host-js/ and dist/ from the repository, and prints its URL.

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVED = ['host-js', 'dist'];
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.lua': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
};

/** Resolves a request path to a file under one of the served folders, or null. */
export function resolvePath(urlPath) {
  let path;
  try { path = decodeURIComponent(urlPath.split('?')[0]); } catch { return null; }
  // As in Node, $LUA_PERSIST_WASM names another module to serve (for testing builds).
  if (path === '/dist/lua.wasm' && process.env.LUA_PERSIST_WASM) return process.env.LUA_PERSIST_WASM;
  if (path.endsWith('/')) path += 'index.html';
  const file = normalize(join(ROOT, path));
  return SERVED.some((dir) => file.startsWith(join(ROOT, dir) + sep)) ? file : null;
}

/** Starts the server; resolves to `{server, url}`. Port 0 picks a free one. */
export function serve({ port = 8080, host = '127.0.0.1' } = {}) {
  const server = createServer(async (req, res) => {
    // The page loads its files by relative URL, so it must be served from its own folder.
    if (req.url === '/' || req.url === '') {
      res.writeHead(302, { location: '/host-js/page/' });
      res.end();
      return;
    }
    const file = resolvePath(req.url ?? '/');
    try {
      if (!file || !(await stat(file)).isFile()) throw new Error('not found');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-cache',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({ server, url: `http://${host}:${server.address().port}/` });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 8080);
  try {
    const { url } = await serve({ port });
    console.log(`lua-persist playground: ${url}`);
  } catch (e) {
    if (e.code !== 'EADDRINUSE') throw e;
    console.error(`port ${port} is in use: run \`node host-js/serve.js --port N\` (or PORT=N make demo); 0 picks a free port`);
    process.exit(1);
  }
}
