//! The `env.js_*` imports, and [`ImportHost`], the engine's [`Host`] over them.
//!
//! Every pointer handed to the host points into this module's memory and stays valid for the
//! duration of the call only; the host must not call back into the module from an import.

use alloc::boxed::Box;
use alloc::vec::Vec;

use engine::{Host, HostError};
use vm::{HostFile, HostResult, OpenMode, ProcessEnd, Whence};

#[link(wasm_import_module = "env")]
extern "C" {
    fn js_ext_table_set(id: u32, key: *const u8, key_len: u32, val: *const u8, val_len: u32)
        -> i32;
    fn js_ext_table_get(id: u32, key: *const u8, key_len: u32, val: *mut u8, max: u32) -> i32;
    fn js_ext_table_delete(id: u32, key: *const u8, key_len: u32) -> i32;
    fn js_ext_table_size(id: u32) -> i32;
    fn js_ext_table_keys(id: u32, buf: *mut u8, max: u32) -> i32;
    fn js_ext_table_next(id: u32, after: *const u8, after_len: u32, buf: *mut u8, max: u32) -> i32;
    fn js_output(ptr: *const u8, len: u32);
    fn js_random(ptr: *mut u8, len: u32);
    fn js_now() -> f64;
    fn js_clock() -> f64;
    fn js_release_object(id: u32);
}

/// The key list's buffer starts at this size and grows when the keys do not fit.
const INITIAL_KEYS_BYTES: usize = 16 * 1024;
/// What `js_ext_table_next` answers when the key to continue after is not in the table.
const NOT_A_KEY: i32 = -2;
const INITIAL_VALUE_BYTES: usize = 256;

/// The engine's host: the JS imports. Stateless; the tables live in JS.
pub struct ImportHost;

fn refused(op: &str, id: u32, code: i32) -> HostError {
    // The code as an i64: formatting an i32 would bring in i32's own formatting code.
    HostError(alloc::format!(
        "host refused {op} on external table {id} (code {})",
        i64::from(code)
    ))
}

/// Calls `fill(ptr, capacity)` until what the host reports fits, then sets `out`'s length.
/// `fill` returns the full length the host has (written only if it fits), or a negative code.
fn fill_growing(
    out: &mut Vec<u8>,
    initial: usize,
    mut fill: impl FnMut(*mut u8, u32) -> i32,
) -> Result<Option<usize>, i32> {
    out.clear();
    if out.capacity() < initial {
        out.reserve(initial);
    }
    loop {
        let capacity = out.capacity();
        let reported = fill(out.as_mut_ptr(), capacity.min(u32::MAX as usize) as u32);
        if reported < 0 {
            return Err(reported);
        }
        let needed = reported as usize;
        if needed <= capacity {
            // SAFETY: the host wrote exactly `needed` initialised bytes at `out.as_mut_ptr()`,
            // within the `capacity` bytes the pointer is valid for.
            unsafe { out.set_len(needed) };
            return Ok(Some(needed));
        }
        out.reserve(needed);
    }
}

impl Host for ImportHost {
    fn table_set(&self, id: u32, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        // SAFETY: both slices are valid for reads for the duration of the call.
        let code = unsafe {
            js_ext_table_set(
                id,
                key.as_ptr(),
                key.len() as u32,
                value.as_ptr(),
                value.len() as u32,
            )
        };
        if code < 0 {
            return Err(refused("set", id, code));
        }
        Ok(())
    }

    fn table_get(&self, id: u32, key: &[u8], out: &mut Vec<u8>) -> Result<bool, HostError> {
        let result = fill_growing(out, INITIAL_VALUE_BYTES, |ptr, max| {
            // SAFETY: `key` is readable; `ptr` is writable for `max` bytes.
            unsafe { js_ext_table_get(id, key.as_ptr(), key.len() as u32, ptr, max) }
        });
        match result {
            Ok(_) => Ok(true),
            Err(-1) => Ok(false),
            Err(code) => Err(refused("get", id, code)),
        }
    }

    fn table_has(&self, id: u32, key: &[u8]) -> Result<bool, HostError> {
        // SAFETY: `key` is readable; max 0 means the host writes nothing.
        let code = unsafe {
            js_ext_table_get(id, key.as_ptr(), key.len() as u32, core::ptr::null_mut(), 0)
        };
        match code {
            -1 => Ok(false),
            c if c < 0 => Err(refused("get", id, c)),
            _ => Ok(true),
        }
    }

    fn table_delete(&self, id: u32, key: &[u8]) -> Result<(), HostError> {
        // SAFETY: `key` is readable for the duration of the call.
        let code = unsafe { js_ext_table_delete(id, key.as_ptr(), key.len() as u32) };
        if code < 0 {
            return Err(refused("delete", id, code));
        }
        Ok(())
    }

    fn table_size(&self, id: u32) -> Result<u32, HostError> {
        // SAFETY: plain integer call.
        let n = unsafe { js_ext_table_size(id) };
        u32::try_from(n).map_err(|_| refused("size", id, n))
    }

    fn table_page(
        &self,
        id: u32,
        after: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, HostError> {
        // The host fills as much as it is offered: offer `limit`, more only for one big entry.
        out.shrink_to(limit);
        let result = fill_growing(out, limit, |ptr, max| {
            // SAFETY: `after` is readable; `ptr` is writable for `max` bytes.
            unsafe { js_ext_table_next(id, after.as_ptr(), after.len() as u32, ptr, max) }
        });
        match result {
            Ok(_) => Ok(true),
            Err(NOT_A_KEY) => Ok(false),
            Err(code) => Err(refused("next", id, code)),
        }
    }

    fn table_keys(&self, id: u32, out: &mut Vec<u8>) -> Result<(), HostError> {
        fill_growing(out, INITIAL_KEYS_BYTES, |ptr, max| {
            // SAFETY: `ptr` is writable for `max` bytes.
            unsafe { js_ext_table_keys(id, ptr, max) }
        })
        .map(|_| ())
        .map_err(|code| refused("keys", id, code))
    }

    fn write_output(&self, bytes: &[u8]) {
        // SAFETY: `bytes` is readable for the duration of the call.
        unsafe { js_output(bytes.as_ptr(), bytes.len() as u32) }
    }

    fn now_ms(&self) -> f64 {
        // SAFETY: no arguments.
        unsafe { js_now() }
    }

    fn clock_ms(&self) -> f64 {
        // SAFETY: no arguments.
        unsafe { js_clock() }
    }

    fn fill_random(&self, buf: &mut [u8]) {
        fill_random(buf)
    }

    fn release_object(&self, id: u32) {
        // SAFETY: an integer argument only.
        unsafe { js_release_object(id) }
    }

    fn write_error(&self, bytes: &[u8]) {
        // SAFETY: `bytes` is readable for the duration of the call.
        unsafe { js_stderr(bytes.as_ptr(), bytes.len() as u32) }
    }

    fn read_input(&self, buf: &mut [u8]) -> HostResult<usize> {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { js_stdin(buf.as_mut_ptr(), buf.len() as u32) };
        count(n).map(|n| n.min(buf.len()))
    }

    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        fill_growing(&mut out, INITIAL_VALUE_BYTES, |ptr, max| {
            // SAFETY: `name` is readable; `ptr` is writable for `max` bytes.
            unsafe { js_getenv(name.as_ptr(), name.len() as u32, ptr, max) }
        })
        .ok()?;
        Some(out)
    }

    fn open(&self, path: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let mode = match mode {
            OpenMode::Read => 0,
            OpenMode::Write => 1,
            OpenMode::Append => 2,
            OpenMode::ReadUpdate => 3,
            OpenMode::WriteUpdate => 4,
            OpenMode::AppendUpdate => 5,
        };
        open_file(path, mode)
    }

    fn tmpfile(&self) -> HostResult<Box<dyn HostFile>> {
        open_file(b"", TEMPORARY_FILE)
    }

    fn remove(&self, path: &[u8]) -> HostResult<()> {
        // SAFETY: `path` is readable for the duration of the call.
        count(unsafe { js_file_remove(path.as_ptr(), path.len() as u32) }).map(|_| ())
    }

    fn rename(&self, from: &[u8], to: &[u8]) -> HostResult<()> {
        // SAFETY: both slices are readable for the duration of the call.
        let code = unsafe {
            js_file_rename(
                from.as_ptr(),
                from.len() as u32,
                to.as_ptr(),
                to.len() as u32,
            )
        };
        count(code).map(|_| ())
    }

    fn tmpname(&self) -> HostResult<Vec<u8>> {
        let mut out = Vec::new();
        fill_growing(&mut out, INITIAL_VALUE_BYTES, |ptr, max| {
            // SAFETY: `ptr` is writable for `max` bytes.
            unsafe { js_file_tmpname(ptr, max) }
        })
        .map_err(host_error)?;
        Ok(out)
    }
}

/// Random bytes from the host (hash seeds, `math.random`).
pub fn fill_random(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { js_random(buf.as_mut_ptr(), buf.len() as u32) }
}

// Standard streams, the environment and files (`io`, `os`, `package`). A negative result is
// `-errno`; `js_error_text` then gives the message C's `strerror` would.
#[link(wasm_import_module = "env")]
extern "C" {
    fn js_stderr(ptr: *const u8, len: u32);
    fn js_stdin(buf: *mut u8, max: u32) -> i32;
    fn js_getenv(name: *const u8, name_len: u32, buf: *mut u8, max: u32) -> i32;
    fn js_file_open(path: *const u8, path_len: u32, mode: u32) -> i32;
    fn js_file_read(file: i32, buf: *mut u8, max: u32) -> i32;
    fn js_file_write(file: i32, ptr: *const u8, len: u32) -> i32;
    fn js_file_seek(file: i32, whence: u32, offset: f64) -> f64;
    fn js_file_close(file: i32) -> i32;
    fn js_file_remove(path: *const u8, path_len: u32) -> i32;
    fn js_file_rename(from: *const u8, from_len: u32, to: *const u8, to_len: u32) -> i32;
    fn js_file_tmpname(buf: *mut u8, max: u32) -> i32;
    fn js_error_text(buf: *mut u8, max: u32) -> i32;
}

/// `js_file_open`'s mode for `io.tmpfile` (0-5 are `r`, `w`, `a`, `r+`, `w+`, `a+`).
const TEMPORARY_FILE: u32 = 6;

/// The host's last failure with error number `code`, its message as `strerror` words it.
fn host_error(code: i32) -> vm::HostError {
    let mut text = Vec::new();
    let _ = fill_growing(&mut text, INITIAL_VALUE_BYTES, |ptr, max| {
        // SAFETY: `ptr` is writable for `max` bytes.
        unsafe { js_error_text(ptr, max) }
    });
    vm::HostError::new(
        alloc::string::String::from_utf8_lossy(&text),
        code.saturating_neg(),
    )
}

/// A count from an import, or its error.
fn count(n: i32) -> HostResult<usize> {
    usize::try_from(n).map_err(|_| host_error(n))
}

fn open_file(path: &[u8], mode: u32) -> HostResult<Box<dyn HostFile>> {
    // SAFETY: `path` is readable for the duration of the call.
    let file = unsafe { js_file_open(path.as_ptr(), path.len() as u32, mode) };
    count(file)?;
    Ok(Box::new(ImportFile(file)))
}

/// A file the host opened, by its handle.
struct ImportFile(i32);

impl HostFile for ImportFile {
    fn read(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { js_file_read(self.0, buf.as_mut_ptr(), buf.len() as u32) };
        count(n).map(|n| n.min(buf.len()))
    }

    fn write(&mut self, bytes: &[u8]) -> HostResult<()> {
        // SAFETY: `bytes` is readable for the duration of the call.
        count(unsafe { js_file_write(self.0, bytes.as_ptr(), bytes.len() as u32) }).map(|_| ())
    }

    fn seek(&mut self, whence: Whence, offset: i64) -> HostResult<u64> {
        let whence = match whence {
            Whence::Set => 0,
            Whence::Cur => 1,
            Whence::End => 2,
        };
        // SAFETY: plain numbers.
        let at = unsafe { js_file_seek(self.0, whence, offset as f64) };
        if at < 0.0 {
            return Err(host_error(at as i32));
        }
        Ok(at as u64)
    }

    fn close(self: Box<Self>) -> HostResult<Option<ProcessEnd>> {
        // SAFETY: plain numbers.
        count(unsafe { js_file_close(self.0) }).map(|_| None)
    }
}
