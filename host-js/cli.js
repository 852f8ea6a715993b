#!/usr/bin/env node
// lua5.4's command line (lua.c) on lua-persist: `node host-js/cli.js [options] [script [args]]`
// takes lua5.4's options, fills `arg`, runs LUA_INIT, the script (or standard input) and the
// interactive loop, and reports and exits as lua5.4 does. Its own options: `--state DIR`
// keeps `_home` between runs, `--atomic` undoes a failed chunk's writes, `--wasm FILE`.

import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LuaEngine, LuaError, LuaExit } from './lua-api.js';
import { FileStore } from './stores/file.js';
import { luaString } from './lua-source.js';
import { cError, readStdin } from './node-io.js';

const PROGNAME = 'lua';
const VERSION = 'Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio';

const USAGE = `usage: ${PROGNAME} [options] [script [args]]
Available options are:
  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information
  -E        ignore environment variables
  -W        turn warnings on
  --        stop handling options
  -         stop handling options and execute stdin
`;

const EXTRA_USAGE = `lua-persist's own options (before the script):
  --state DIR   keep _home in DIR: loaded at start, saved after every chunk
  --atomic      a chunk that fails leaves _home (and every external table) as it was
  --wasm FILE   the module to use (default: dist/lua.wasm)
  --help        this text
`;

/**
 * Reads the command line as lua.c's `collectargs` does. `argv` is what lua5.4 would have
 * been given (our own options taken out, `lua` first); `script` its index (0: none);
 * `bad` the option to complain about.
 */
function parseArgs(args) {
  const o = {
    argv: [PROGNAME], script: 0, bad: null, version: false, interactive: false, execute: false,
    ignoreEnv: false, state: null, atomic: false, wasm: undefined, help: false,
  };
  const argv = o.argv;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--state' || a === '--wasm') {
      if (i + 1 >= args.length) { o.bad = a; return o; }
      o[a.slice(2)] = args[++i];
      continue;
    }
    if (a === '--atomic') { o.atomic = true; continue; }
    if (a === '--help') { o.help = true; continue; }
    argv.push(a);
    if (a[0] !== '-' || a === '-') { o.script = argv.length - 1; break; }
    const extra = a.length > 2;
    const option = a[1];
    if (option === '-' && !extra) {
      if (i + 1 < args.length) o.script = argv.length;
      break;
    }
    if ('EWiv'.includes(option) && !extra) {
      if (option === 'E') o.ignoreEnv = true;
      if (option === 'i') o.interactive = true;
      if (option === 'i' || option === 'v') o.version = true;
    } else if (option === 'e' || option === 'l') {
      if (option === 'e') o.execute = true;
      if (!extra) {
        if (i + 1 >= args.length || args[i + 1][0] === '-') { o.bad = a; return o; }
        argv.push(args[++i]);
      }
    } else {
      o.bad = a;
      return o;
    }
  }
  argv.push(...args.slice(i + 1));
  return o;
}

/** What a failed run reports: lua5.4's message, with the traceback of runtime errors. */
function describe(e) {
  if (e instanceof LuaError) return e.traceback ? `${e.message}\n${e.traceback}` : e.message;
  if (e?.name === 'AbortError') return 'interrupted!';
  return e?.message ?? String(e);
}

/** A file's text as `luaL_loadfile` reads it: no UTF-8 mark, a first line `#...` emptied. */
function scriptText(bytes) {
  let b = bytes;
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  if (b[0] === 0x23) {
    const end = b.indexOf(0x0a);
    // The newline stays, so that line numbers stay.
    b = end < 0 ? new Uint8Array(0) : b.subarray(end);
  }
  return b;
}

function readAllStdin() {
  const parts = [];
  const buf = Buffer.alloc(64 * 1024);
  for (let n; (n = readStdin(buf)) > 0;) parts.push(Buffer.from(buf.subarray(0, n)));
  return Buffer.concat(parts);
}

/** Thrown to end the process with `code` (os.exit, or a failure already reported). */
class Ending {
  constructor(code) { this.code = code; }
}

class Runner {
  constructor(lua, opts) {
    this.lua = lua;
    this.opts = opts;
    /** The run in progress, for Ctrl-C. */
    this.running = null;
    /** The terminal's line editor, stepped aside while a chunk runs (`io.read` reads the terminal). */
    this.terminal = null;
  }

  /** `progname: message` on standard error (`l_message`); no name in the interactive loop. */
  message(text, progname = PROGNAME) {
    process.stderr.write(progname ? `${progname}: ${text}\n` : `${text}\n`);
  }

  /**
   * Runs a chunk (lua.c's `docall` and `report`): true when it ran, false when it failed
   * (reported). `os.exit` throws an Ending.
   */
  async run(code, chunkName, { args, printResults = false, progname = PROGNAME } = {}) {
    this.running = new AbortController();
    this.terminal?.pause();
    let ok = true;
    try {
      await this.lua.compute(code, { chunkName, args, printResults, signal: this.running.signal });
    } catch (e) {
      if (e instanceof LuaExit) {
        await this.save();
        throw new Ending(e.code);
      }
      this.message(describe(e), progname);
      ok = false;
    } finally {
      this.running = null;
      this.terminal?.resume();
    }
    if (!(await this.save())) throw new Ending(1);
    return ok;
  }

  /** Runs a chunk that the REPL or the runner itself needs; its first result. */
  value(code, args) {
    return this.lua.computeSync(code, { chunkName: '=(command line)', args, atomic: false })[0];
  }

  /** Saves `_home` after a chunk when `--state` asks; false (reported) when that failed. */
  async save({ repl = false } = {}) {
    if (!this.opts.state) return true;
    try {
      await this.lua.save();
      return true;
    } catch (e) {
      // The engine's own advice (load, or overwrite) is for programs; a process that exits
      // has one thing to do.
      if (e.code === 'stale' && repl) {
        this.message(`not saved: another process saved ${this.lua.store.describe()} since this REPL loaded it; ` +
          'restart the REPL to go on from that state (changes made here cannot be saved)');
      } else if (e.code === 'stale') {
        this.message(`not saved: another process saved ${this.lua.store.describe()} while this one ran; ` +
          "this run's changes to _home are lost: run it again to apply them to the new state");
      } else {
        this.message(e.message);
      }
      return false;
    }
  }

  /** Runs a file, or standard input for null (`dofile`, `handle_script`). */
  async runFile(name, args) {
    let bytes;
    try {
      bytes = name === null ? readAllStdin() : readFileSync(name);
    } catch (e) {
      this.message(`cannot ${name === null ? 'read stdin' : `open ${name}`}: ${cError(e).message}`);
      return false;
    }
    return this.run(scriptText(bytes), name === null ? '=stdin' : `@${name}`, { args });
  }

  /** The script's arguments: `arg[1]` to `arg[#arg]` as they are when it starts. */
  scriptArgs() {
    const n = this.value("if type(arg) ~= 'table' then error(\"'arg' is not a table\", 0) end return #arg");
    if (n === 0) return [];
    const values = this.lua.computeSync('local t = {} for i = 1, #arg do t[i] = tostring(arg[i]) end return table.unpack(t)',
      { chunkName: '=(command line)', atomic: false });
    return [...values];
  }

  /** `LUA_INIT_5_4` or `LUA_INIT`: a chunk, or `@file`. */
  runInit() {
    const name = ['LUA_INIT_5_4', 'LUA_INIT'].find((n) => process.env[n] !== undefined);
    if (!name) return true;
    const init = process.env[name];
    return init.startsWith('@') ? this.runFile(init.slice(1)) : this.run(init, `=${name}`);
  }

  /** `-e`, `-l` and `-W`, in order (`runargs`). */
  async runOptions(argv, end) {
    for (let i = 1; i < end; i++) {
      const a = argv[i];
      const option = a[1];
      if (option === 'e' || option === 'l') {
        const value = a.length > 2 ? a.slice(2) : argv[++i];
        if (option === 'e') {
          if (!(await this.run(value, '=(command line)'))) return false;
        } else {
          const at = value.indexOf('=');
          const [global, module] = at < 0 ? [value, value] : [value.slice(0, at), value.slice(at + 1)];
          // Through pcall, so that require's message has no position, as from lua.c.
          const code = `local ok, m = pcall(require, ${luaString(module)}) if not ok then error(m, 0) end _G[${luaString(global)}] = m`;
          if (!(await this.run(code, '=(command line)'))) return false;
        }
      } else if (option === 'W') {
        // Through `warn`, which a script may have taken away: then nothing to turn on.
        try { this.value('warn("@on")'); } catch { /* no warnings */ }
      }
    }
    return true;
  }

  /** The prompt `_PROMPT` (or `_PROMPT2`) asks for, through `tostring` as lua.c does. */
  prompt(first) {
    const name = first ? '_PROMPT' : '_PROMPT2';
    const fallback = first ? '> ' : '>> ';
    try {
      const text = this.value(`local p = ${name} if p == nil then return ... end return tostring(p)`, [fallback]);
      return typeof text === 'string' ? text : Buffer.from(text ?? '').toString();
    } catch {
      // `tostring` gone or failing: the default.
      return fallback;
    }
  }

  /**
   * The interactive loop (`doREPL`): each line runs, as `return line;` when that compiles,
   * else with the lines after it until they make a chunk; what it returns is printed.
   * Errors are reported without the program's name, as lua.c does. `readLine(first)` gives
   * the next line (bytes), or null at the end.
   */
  async repl(readLine) {
    for (;;) {
      let line = await readLine(true);
      if (line === null) break;
      if (line[0] === 0x3d) line = Buffer.concat([Buffer.from('return '), line.subarray(1)]);
      let code = Buffer.concat([Buffer.from('return '), line, Buffer.from(';')]);
      if (this.lua.check(code, { chunkName: '=stdin' }) !== null) {
        code = line;
        for (;;) {
          const error = this.lua.check(code, { chunkName: '=stdin' });
          if (!error || !error.message.endsWith('<eof>')) break;
          const more = await readLine(false);
          if (more === null) break;
          code = Buffer.concat([code, Buffer.from('\n'), more]);
        }
      }
      await this.run(code, '=stdin', { printResults: true, progname: null });
    }
    process.stdout.write('\n');
  }

  /** Lines of standard input read through `io.stdin`, so that `io.read` takes turns with them. */
  pipedLines() {
    return (first) => {
      process.stdout.write(this.prompt(first));
      let line;
      try {
        line = this.value('return io.stdin:read("l")');
      } catch (e) {
        // A script took `io` away: the loop cannot read on.
        this.message(e.message, null);
        return null;
      }
      if (line === null || line === undefined) return null;
      const bytes = Buffer.from(line);
      // Shown again, as Debian's lua5.4 (readline) shows lines that do not come from a terminal.
      process.stdout.write(Buffer.concat([bytes, Buffer.from('\n')]));
      return bytes;
    };
  }

  /** Lines from a terminal, with line editing, history and Ctrl-C. */
  terminalLines() {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true, historySize: 1000 });
    const historyFile = join(homedir(), '.lua_persist_history');
    try { rl.history = readFileSync(historyFile, 'utf8').split('\n').filter(Boolean).reverse(); } catch { /* none yet */ }
    const lines = rl[Symbol.asyncIterator]();
    let cancelled = false;
    rl.on('SIGINT', () => {
      if (this.running) this.running.abort();
      else { cancelled = true; rl.write('\n'); rl.close(); }
    });
    // While a chunk runs the terminal edits lines itself (and Ctrl-C is a signal).
    this.terminal = {
      pause: () => { rl.pause(); process.stdin.setRawMode(false); },
      resume: () => { process.stdin.setRawMode(true); rl.resume(); },
    };
    rl.on('close', () => {
      try { writeFileSync(historyFile, `${[...rl.history].reverse().join('\n')}\n`); } catch { /* not kept */ }
    });
    return async (first) => {
      rl.setPrompt(this.prompt(first));
      rl.prompt();
      const { value, done } = await lines.next();
      return done || cancelled ? null : Buffer.from(value);
    };
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    process.stdout.write(`${USAGE}${EXTRA_USAGE}`);
    return 0;
  }
  if (opts.bad) {
    const bad = opts.bad;
    const needsValue = bad[1] === 'e' || bad[1] === 'l' || bad === '--state' || bad === '--wasm';
    const problem = needsValue ? `'${bad}' needs argument` : `unrecognized option '${bad}'`;
    process.stderr.write(`${PROGNAME}: ${problem}\n${USAGE}`);
    return 1;
  }
  // -E: package.path and package.cpath do not read the environment (nor does LUA_INIT run).
  const env = opts.ignoreEnv
    ? Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^LUA_C?PATH(_5_4)?$/.test(k)))
    : process.env;
  let lua;
  try {
    lua = await LuaEngine.create({
      wasm: opts.wasm,
      store: opts.state ? new FileStore(opts.state) : null,
      atomic: opts.atomic,
      // As lua5.4 does: `load` takes `string.dump` output (every load is verified).
      binaryChunks: true,
      fs: true,
      env,
      onOutput: (bytes) => process.stdout.write(bytes),
      onStderr: (bytes) => process.stderr.write(bytes),
    });
  } catch (e) {
    process.stderr.write(`${PROGNAME}: ${e.message}\n`);
    return 1;
  }
  const r = new Runner(lua, opts);
  const { argv, script } = opts;
  if (opts.version) process.stdout.write(`${VERSION}\n`);
  const arg = argv.map((a, i) => `[${i - script}]=${luaString(a)}`).join(',');
  r.value(`arg = {${arg}}`);
  // Ctrl-C stops the run in progress (`lua: interrupted!`); between runs it ends the process.
  process.on('SIGINT', () => { if (r.running) r.running.abort(); else process.exit(130); });
  if (!opts.ignoreEnv && !(await r.runInit())) return 1;
  if (!(await r.runOptions(argv, script > 0 ? script : argv.length))) return 1;
  if (script > 0) {
    const name = argv[script];
    const stdin = name === '-' && argv[script - 1] !== '--';
    let args;
    try {
      args = r.scriptArgs();
    } catch (e) {
      r.message(e.message);
      return 1;
    }
    if (!(await r.runFile(stdin ? null : name, args))) return 1;
  }
  const interactive = Boolean(process.stdin.isTTY);
  if (opts.interactive) {
    await r.repl(interactive ? r.terminalLines() : r.pipedLines());
  } else if (script === 0 && !opts.execute && !opts.version) {
    if (interactive) {
      process.stdout.write(`${VERSION}\n`);
      await r.repl(r.terminalLines());
    } else {
      // lua.c ignores how this ends: a failure is reported, the status stays 0.
      await r.runFile(null);
    }
  }
  return 0;
}

try {
  process.exitCode = await main();
} catch (e) {
  if (!(e instanceof Ending)) throw e;
  process.exitCode = e.code;
}
// Whatever the terminal's readline or a stray handle holds, the run is over.
process.exit();
