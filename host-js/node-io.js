// Node's side of Lua's `io` and `os`: the process's standard input and real files, in the
// shape `Abi.imports` takes (`stdin`, `files`). Reached through platform.js's `nodeOnly.io`,
// which lua-api.js sets under Node only; the browser entry never names this file.

import {
  closeSync, fstatSync, lstatSync, openSync, readSync, renameSync, rmdirSync, unlinkSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// C's `strerror` for what libuv words differently (`EISDIR`: "illegal operation on a directory").
const STRERROR = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', EIO: 'Input/output error',
  EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable', EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy', EEXIST: 'File exists', EXDEV: 'Invalid cross-device link',
  ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files', ENOSPC: 'No space left on device', ESPIPE: 'Illegal seek',
  EROFS: 'Read-only file system', ENAMETOOLONG: 'File name too long', ENOTEMPTY: 'Directory not empty',
  ELOOP: 'Too many levels of symbolic links',
};

/** A Node error as C reports it: `errno` (positive) and `strerror`'s text. */
export function cError(e) {
  if (!(typeof e?.errno === 'number' && typeof e.code === 'string')) return e;
  const libuv = /^\w+: ([^,]*)/.exec(e.message)?.[1] ?? e.message;
  const error = new Error(STRERROR[e.code] ?? libuv.charAt(0).toUpperCase() + libuv.slice(1));
  error.errno = Math.abs(e.errno);
  return error;
}

function cCall(fn) {
  try {
    return fn();
  } catch (e) {
    throw cError(e);
  }
}

// A Lua string names a file as C sees it: up to its first zero byte.
const path = (bytes) => {
  const end = bytes.indexOf(0);
  return Buffer.from(end < 0 ? bytes : bytes.subarray(0, end));
};

const FLAGS = ['r', 'w', 'a', 'r+', 'w+', 'a+'];

/** A new empty file `lua_XXXXXX` in the temporary folder (as lua5.4's `mkstemp`), open. */
function temporaryFile() {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (let attempt = 0; ; attempt++) {
    let name = 'lua_';
    for (let i = 0; i < 6; i++) name += letters[Math.floor(Math.random() * letters.length)];
    const file = join(tmpdir(), name);
    try {
      return { name: file, fd: openSync(file, 'wx+', 0o600) };
    } catch (e) {
      if (e.code !== 'EEXIST' || attempt >= 100) throw cError(e);
    }
  }
}

/**
 * Real files through `node:fs`. Node has no `lseek`, so each open file keeps its position
 * and reads and writes at it (`a` modes write at the end, as `O_APPEND` does).
 */
export function nodeFiles() {
  const open = new Map();
  let next = 1;
  const file = (handle) => {
    const f = open.get(handle);
    if (!f) throw Object.assign(new Error('Bad file descriptor'), { errno: 9 });
    return f;
  };
  return {
    open(bytes, mode) {
      let fd;
      if (mode === 6) {
        const t = temporaryFile();
        fd = t.fd;
        // The file lives on without its name until it is closed, as C's `tmpfile`.
        cCall(() => unlinkSync(t.name));
      } else {
        fd = cCall(() => openSync(path(bytes), FLAGS[mode]));
      }
      open.set(next, { fd, position: 0, append: mode === 2 || mode === 5 });
      return next++;
    },
    read(handle, view) {
      const f = file(handle);
      const n = cCall(() => readSync(f.fd, view, 0, view.length, f.position));
      f.position += n;
      return n;
    },
    write(handle, bytes) {
      const f = file(handle);
      if (f.append) {
        cCall(() => { for (let at = 0; at < bytes.length;) at += writeSync(f.fd, bytes, at); });
        f.position = cCall(() => fstatSync(f.fd).size);
        return;
      }
      for (let at = 0; at < bytes.length;) {
        const n = cCall(() => writeSync(f.fd, bytes, at, bytes.length - at, f.position));
        at += n;
        f.position += n;
      }
    },
    seek(handle, whence, offset) {
      const f = file(handle);
      const base = whence === 0 ? 0 : whence === 1 ? f.position : cCall(() => fstatSync(f.fd).size);
      if (base + offset < 0) throw Object.assign(new Error('Invalid argument'), { errno: 22 });
      f.position = base + offset;
      return f.position;
    },
    close(handle) {
      const f = file(handle);
      open.delete(handle);
      cCall(() => closeSync(f.fd));
    },
    remove(bytes) {
      // C's `remove` takes files and empty directories alike.
      const p = path(bytes);
      cCall(() => (lstatSync(p).isDirectory() ? rmdirSync(p) : unlinkSync(p)));
    },
    rename(from, to) {
      cCall(() => renameSync(path(from), path(to)));
    },
    tmpname() {
      const t = temporaryFile();
      closeSync(t.fd);
      return t.name;
    },
  };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Reads the process's standard input into `view`, waiting for it (a run is synchronous):
 * how many bytes came, 0 at its end.
 */
export function readStdin(view) {
  for (;;) {
    try {
      return readSync(0, view, 0, view.length, null);
    } catch (e) {
      if (e.code === 'EOF') return 0;
      // Node may have made standard input non-blocking: wait for data.
      if (e.code !== 'EAGAIN') throw cError(e);
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}
