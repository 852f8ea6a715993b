//! The `env.js_*` imports, and [`ImportHost`], the engine's [`Host`] over them.
//!
//! Every pointer handed to the host points into this module's memory and stays valid for the
//! duration of the call only; the host must not call back into the module from an import.

use alloc::vec::Vec;

use engine::{Host, HostError};

#[link(wasm_import_module = "env")]
extern "C" {
    fn js_ext_table_set(id: u32, key: *const u8, key_len: u32, val: *const u8, val_len: u32)
        -> i32;
    fn js_ext_table_get(id: u32, key: *const u8, key_len: u32, val: *mut u8, max: u32) -> i32;
    fn js_ext_table_delete(id: u32, key: *const u8, key_len: u32) -> i32;
    fn js_ext_table_size(id: u32) -> i32;
    fn js_ext_table_keys(id: u32, buf: *mut u8, max: u32) -> i32;
    fn js_ext_table_next(id: u32, cursor: u32, buf: *mut u8, max: u32) -> i32;
    fn js_output(ptr: *const u8, len: u32);
    fn js_random(ptr: *mut u8, len: u32);
    fn js_now() -> f64;
    fn js_clock() -> f64;
}

/// A page buffer starts at this size and grows when one entry does not fit.
const INITIAL_PAGE_BYTES: usize = 16 * 1024;
const INITIAL_VALUE_BYTES: usize = 256;

/// The engine's host: the JS imports. Stateless; the tables live in JS.
pub struct ImportHost;

fn refused(op: &str, id: u32, code: i32) -> HostError {
    HostError(alloc::format!(
        "host refused {op} on external table {id} (code {code})"
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

    fn table_page(&self, id: u32, cursor: u32, out: &mut Vec<u8>) -> Result<(), HostError> {
        fill_growing(out, INITIAL_PAGE_BYTES, |ptr, max| {
            // SAFETY: `ptr` is writable for `max` bytes.
            unsafe { js_ext_table_next(id, cursor, ptr, max) }
        })
        .map(|_| ())
        .map_err(|code| refused("next", id, code))
    }

    fn table_keys(&self, id: u32, out: &mut Vec<u8>) -> Result<(), HostError> {
        fill_growing(out, INITIAL_PAGE_BYTES, |ptr, max| {
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
}

/// Random bytes from the host (hash seeds, `math.random`).
pub fn fill_random(buf: &mut [u8]) {
    // SAFETY: `buf` is writable for its length.
    unsafe { js_random(buf.as_mut_ptr(), buf.len() as u32) }
}
