#!/usr/bin/env node
// The command line: `node host-js/cli.js [options] [script.lua]`, like `lua5.4`, with an
// optional state directory that keeps `_home` between runs. Without a script or -e, a REPL.

import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LuaEngine, LuaError } from './lua-api.js';
import { FileStore } from './stores/file.js';

const USAGE = `usage: node host-js/cli.js [options] [script.lua | -]
  -e CODE       run CODE (may be given more than once; runs before the script)
  -i            enter the REPL after running the script / -e code
  --state DIR   keep _home in DIR: loaded at start, saved after every chunk
  --atomic      a chunk that fails leaves _home (and every external table) as it was
  --wasm FILE   the module to use (default: dist/lua.wasm)
  -h, --help    this text
With no script and no -e: a REPL (=expr prints the values; unfinished input continues).
Errors go to stderr as "lua: message" and the exit status is 1.`;

/** Parses argv; throws a string for usage errors. */
export function parseArgs(argv) {
  const o = { code: [], script: null, interactive: false, state: null, atomic: false, wasm: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw `'${a}' needs an argument`;
      return argv[++i];
    };
    if (a === '-e') o.code.push(value());
    else if (a === '-i') o.interactive = true;
    else if (a === '--state') o.state = value();
    else if (a === '--atomic') o.atomic = true;
    else if (a === '--wasm') o.wasm = value();
    else if (a === '-h' || a === '--help') o.help = true;
    else if (a === '-' || !a.startsWith('-')) { o.script = a; break; }
    else throw `unrecognized option '${a}'`;
  }
  return o;
}

function fail(message) {
  process.stderr.write(`lua: ${message}\n`);
  process.exitCode = 1;
}

async function main() {
  let opts;
  try { opts = parseArgs(process.argv.slice(2)); } catch (e) {
    fail(String(e));
    process.stderr.write(`${USAGE}\n`);
    return;
  }
  if (opts.help) { process.stdout.write(`${USAGE}\n`); return; }
  let lua;
  try {
    lua = await LuaEngine.create({
      wasm: opts.wasm,
      store: opts.state ? new FileStore(opts.state) : null,
      atomic: opts.atomic,
      // As lua5.4 does: `load` takes `string.dump` output (every load is verified).
      binaryChunks: true,
      onOutput: (bytes) => process.stdout.write(bytes),
    });
  } catch (e) {
    fail(e.message);
    return;
  }
  const chunks = opts.code.map((code) => ({ code, chunkName: '=(command line)' }));
  if (opts.script === '-') {
    chunks.push({ code: await readStdin(), chunkName: '=stdin' });
  } else if (opts.script !== null) {
    try {
      chunks.push({ code: await readFile(opts.script), chunkName: `@${opts.script}` });
    } catch (e) {
      fail(`cannot open ${opts.script}`);
      return;
    }
  }
  for (const { code, chunkName } of chunks) {
    try {
      lua.computeSync(code, { chunkName });
    } catch (e) {
      fail(e instanceof LuaError && e.traceback ? `${e.message}\n${e.traceback}` : e.message);
    }
    if (opts.state && !(await save(lua))) return;
    if (process.exitCode) return;
  }
  if (chunks.length === 0 || opts.interactive) await repl(lua, opts);
}

async function save(lua, { repl = false } = {}) {
  try {
    await lua.save();
    return true;
  } catch (e) {
    // The engine's own advice (load, or overwrite) is for programs; a process that exits
    // has one thing to do.
    if (e.code === 'stale' && repl) {
      fail(`not saved: another process saved ${lua.store.describe()} since this REPL loaded it; ` +
        'restart the REPL to go on from that state (changes made here cannot be saved)');
    } else if (e.code === 'stale') {
      fail(`not saved: another process saved ${lua.store.describe()} while this one ran; ` +
        "this run's changes to _home are lost: run it again to apply them to the new state");
    } else {
      fail(e.message);
    }
    return false;
  }
}

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return Buffer.concat(parts);
}

// Messages of chunks that are only unfinished, so the REPL asks for more lines.
const INCOMPLETE = /unexpected end of token stream|unfinished long (string|comment)|<eof>/;

/**
 * The read-eval-print loop. Prompts only on a terminal, so piped input gives clean output.
 * A line that is an expression (or `=expr`) prints its values, as lua5.4 does.
 */
async function repl(lua, opts) {
  const terminal = Boolean(process.stdin.isTTY);
  const historyFile = join(homedir(), '.lua_persist_history');
  const rl = createInterface({
    input: process.stdin, output: process.stdout, terminal, historySize: 1000,
    prompt: terminal ? '> ' : '',
  });
  if (terminal) {
    try { rl.history = (await readFile(historyFile, 'utf8')).split('\n').filter(Boolean).reverse(); } catch { /* none yet */ }
    process.stdout.write(`lua-persist REPL. _home ${opts.state ? `is kept in ${opts.state}` : 'is not kept (use --state DIR)'}. Ctrl-D exits.\n`);
  }
  let pending = '';
  let running = null;
  rl.on('SIGINT', () => {
    if (running) running.abort();
    else if (pending) { pending = ''; process.stdout.write('\n'); rl.setPrompt(terminal ? '> ' : ''); rl.prompt(); }
    else rl.close();
  });
  rl.prompt();
  for await (const line of rl) {
    let code = pending ? `${pending}\n${line}` : line;
    if (!pending && code.startsWith('=')) code = code.slice(1);
    const chunkName = '=stdin';
    let run;
    if (!pending && lua.check(`return ${code}`, { chunkName }) === null) {
      // An expression: print its values, if any. The code stays on line 1 for messages.
      run = `return (function(...) if select('#', ...) > 0 then print(...) end end)(${code}\n)`;
    } else {
      const error = lua.check(code, { chunkName });
      if (error && INCOMPLETE.test(error.message)) {
        pending = code;
        rl.setPrompt(terminal ? '>> ' : '');
        rl.prompt();
        continue;
      }
      run = code;
    }
    pending = '';
    rl.setPrompt(terminal ? '> ' : '');
    running = new AbortController();
    try {
      await lua.compute(run, { chunkName, signal: running.signal });
    } catch (e) {
      process.stderr.write(`${e.name === 'AbortError' ? 'interrupted!' : e instanceof LuaError ? e.message : `${e.name}: ${e.message}`}\n`);
    } finally {
      running = null;
    }
    if (opts.state) await save(lua, { repl: true });
    rl.prompt();
  }
  if (terminal) await writeFile(historyFile, [...rl.history].reverse().join('\n') + '\n').catch(() => {});
}

await main();
