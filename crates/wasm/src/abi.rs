//! The C-ABI exports (ABI v1).
//!
//! # Protocol
//!
//! The module owns one fixed 64 KiB IO buffer (`get_buffer_ptr`, `get_buffer_size`). The host
//! writes arguments into it before a call and reads results from it after; between calls the
//! module never touches it, and during a call the host must not. Every pointer an export
//! takes must lie inside the IO buffer; anything else is refused with kind 5.
//!
//! Status codes (`Status` below, mirrored in `host-js/abi.js`): a call that returns `i32`
//! returns `>= 0` on success and `-kind` on failure, kinds being 1 syntax, 2 runtime,
//! 3 instruction limit, 4 memory limit, 5 bad input/ABI; `resume` may also return
//! -6 (still running) and -8 (waiting for the host, below). A run the script ended with
//! `os.exit` returns -7 and its payload's message is the exit status in decimal.
//!
//! Running code:
//! - `compute(ptr, len)` runs the chunk at `ptr`. On success it returns `n`, the length of
//!   the result: `u32 count` then `count` encoded values (see `engine::codec`). The first
//!   `min(n, 64 KiB)` bytes are in the buffer; `result_read(offset)` copies the bytes from
//!   `offset` on into the buffer and returns how many it copied. On failure the result is
//!   `u32 len` + a UTF-8 message naming chunk and line, for runtime errors followed by
//!   lua5.4's `\nstack traceback:` lines, read the same way.
//! - A chunk larger than the buffer is staged with `input_reset()` and `input_append(len)`
//!   (appends the first `len` bytes of the buffer), then run with `compute_input()`.
//! - `start_input()` compiles the staged chunk without running it; `resume(fuel)` runs it for
//!   about `fuel` instructions and returns -6 while work remains, else what `compute` returns.
//!   Hosts use this to yield to their event loop.
//! - `set_chunk_name(ptr, len)` names later chunks (`=name`, `@file.lua`, as Lua does).
//! - `set_chunk_args(ptr, len)`: `u32 count` then `count` encoded strings at `ptr`, which
//!   the next chunk started (and only that one) gets as `...` (a script's arguments).
//! - `print_next_results()`: the next chunk started hands what it returns to the global
//!   `print` instead of returning it (lua5.4's interactive loop); its result is then empty.
//!
//! Function handles (additions to v1, off until `set_function_handles(1)`):
//! - with handles on, a function in a result is encoded `09 u32 handle` instead of opaque;
//!   the module keeps it alive until `release_handle(handle)` (0, or -5 if unknown).
//! - `call_input()` prepares a call from the staged input: `u32 handle`, `u32 count`, then
//!   `count` encoded arguments (inline tables become new plain tables, `09` handles their
//!   functions); it returns 0 or a failure, and `resume` runs it as for `start_input`.
//!   Handles 1 to 7 are always there (`engine::handles`): `_G[name]`, `_G[name] = value`,
//!   then for reading a table in place: 3 `open(t, k)` (the table `_G[k]` when `t` is nil,
//!   else `rawget(t, k)`; a plain one is returned as a handle, `09`), 4 `rawget`, 5 `rawset`,
//!   6 `rawlen`, 7 `iterate(t)` (a function giving the next `n` entries as `{k1, v1, ...}`).
//!
//! Upvalue cells (addition to v1): `release_cell(id)` tells the module that no stored
//! function refers to cell `id` (an external table) any more and the host dropped it.
//!
//! Host functions (additions to v1): an argument `0a u32 id` becomes a Lua function that, when
//! called, makes `resume` return -8 (waiting for the host) with `u32 len` + the call in the
//! buffer, read as an error payload is: `u32 count`, the id (integer), the arguments. The host
//! stages its answer (`00 u32 count` + results, or `01` + the error value) and calls
//! `host_return()` (0, or -5 if nothing waits), then `resume` again. `compute` cannot wait:
//! there the call raises a Lua error. Id 0 is an `io` read waiting for standard input (its
//! `js_stdin` returned -0x10000, "would block"): the host answers `00 u32 0` once it has
//! input, and the read starts again.
//!
//! Host objects (additions to v1): an argument `0b u32 id` becomes a userdata, the same one for
//! an id while Lua holds it (results give it back as `0b u32 id`). Reading a field, writing
//! one and `tostring` wait for the host as a host function does, with the ids -1 (`obj, key`),
//! -2 (`obj, key, value`) and -3 (`obj`). When Lua holds an id no longer (collected, or the
//! state re-created by `init`), the module calls the import `js_release_object(id)`.
//!
//! Failed `ext_table_*` and other non-compute calls leave their message for
//! `get_last_error()`, which writes `u32 len` + message into the buffer.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{RefCell, UnsafeCell};

use engine::{Engine, ErrorKind, Failure, Limits, Step};
use vm::lib::{at, at_mut};

use crate::imports::ImportHost;

/// Size of the IO buffer.
pub const BUFFER_SIZE: usize = 64 * 1024;
/// Bumped when an export's meaning changes.
pub const ABI_VERSION: u32 = 1;

/// Return codes, one enum for every export; `host-js/abi.js` mirrors it.
#[repr(i32)]
#[derive(Clone, Copy)]
pub enum Status {
    Ok = 0,
    Syntax = -1,
    Runtime = -2,
    InstructionLimit = -3,
    MemoryLimit = -4,
    BadInput = -5,
    Pending = -6,
    Exit = -7,
    WaitingForHost = -8,
}

impl From<ErrorKind> for Status {
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Syntax => Status::Syntax,
            ErrorKind::Runtime => Status::Runtime,
            ErrorKind::InstructionLimit => Status::InstructionLimit,
            ErrorKind::MemoryLimit => Status::MemoryLimit,
            ErrorKind::BadInput => Status::BadInput,
            ErrorKind::Exit => Status::Exit,
        }
    }
}

struct IoBuffer(UnsafeCell<[u8; BUFFER_SIZE]>);

// SAFETY: wasm32-unknown-unknown without the atomics feature runs one thread.
unsafe impl Sync for IoBuffer {}

static BUFFER: IoBuffer = IoBuffer(UnsafeCell::new([0; BUFFER_SIZE]));

/// Module state; a `RefCell` so a re-entrant call from an import fails instead of aliasing.
struct Global(RefCell<Option<State>>);

// SAFETY: as for `IoBuffer`, there is one thread.
unsafe impl Sync for Global {}

static STATE: Global = Global(RefCell::new(None));

/// The last panic message, kept outside `STATE` so it can be read after the trap that
/// follows a panic (the trap leaves `STATE` borrowed).
struct PanicNote(UnsafeCell<([u8; PANIC_NOTE_BYTES], usize)>);

// SAFETY: as for `IoBuffer`, there is one thread.
unsafe impl Sync for PanicNote {}

const PANIC_NOTE_BYTES: usize = 1024;
static PANIC_NOTE: PanicNote = PanicNote(UnsafeCell::new(([0; PANIC_NOTE_BYTES], 0)));

fn record_panic(message: &str) {
    let n = message.len().min(PANIC_NOTE_BYTES);
    // SAFETY: single-threaded; no other reference to the note is alive while a panic is
    // being reported (the note is read only by `get_panic_message`, an export).
    let note = unsafe { &mut *PANIC_NOTE.0.get() };
    at_mut(&mut note.0, ..n).copy_from_slice(at(message.as_bytes(), ..n));
    note.1 = n;
}

/// After a trap: writes `u32 len` + the panic message that caused it (empty if none) into
/// the buffer and returns the bytes written. Safe to call on a trapped instance.
#[no_mangle]
pub extern "C" fn get_panic_message() -> i32 {
    // SAFETY: as in `record_panic`; the bytes are copied out before anything else runs.
    let (bytes, n) = unsafe { &*PANIC_NOTE.0.get() };
    write_buffer(0, &(*n as u32).to_le_bytes());
    write_buffer(4, at(bytes, ..*n));
    (*n + 4) as i32
}

struct State {
    engine: Engine,
    chunk_name: String,
    input: Vec<u8>,
    /// The last result or error payload, for `result_read`.
    result: Vec<u8>,
    last_error: String,
    limits: Limits,
    binary_chunks: bool,
    function_handles: bool,
}

impl State {
    fn new(limits: Limits, chunk_name: String, binary_chunks: bool, handles: bool) -> State {
        engine::set_panic_recorder(record_panic);
        let mut engine = Engine::new(alloc::rc::Rc::new(ImportHost));
        engine.set_limits(limits);
        engine.set_binary_chunks(binary_chunks);
        engine.set_function_handles(handles);
        State {
            engine,
            chunk_name,
            input: Vec::new(),
            result: Vec::new(),
            last_error: String::new(),
            limits,
            binary_chunks,
            function_handles: handles,
        }
    }
}

const DEFAULT_CHUNK_NAME: &str = "=input";

/// Runs `f` on the state, creating it on first use. A re-entrant call gets `BadInput`.
fn with_state<R>(on_busy: R, f: impl FnOnce(&mut State) -> R) -> R {
    let Ok(mut slot) = STATE.0.try_borrow_mut() else {
        return on_busy;
    };
    f(state_in(&mut slot))
}

/// The state in `slot`, created if there is none. Out of line: each export has its own
/// `with_state`, and would otherwise carry its own copy of this.
#[inline(never)]
fn state_in(slot: &mut Option<State>) -> &mut State {
    slot.get_or_insert_with(|| {
        State::new(Limits::default(), DEFAULT_CHUNK_NAME.into(), false, false)
    })
}

fn buffer_ptr() -> *mut u8 {
    BUFFER.0.get().cast()
}

/// The part `[ptr, ptr+len)` of the IO buffer, if it lies inside it.
fn buffer_range(ptr: u32, len: u32) -> Option<core::ops::Range<usize>> {
    let start = (ptr as usize).checked_sub(buffer_ptr() as usize)?;
    let end = start.checked_add(len as usize)?;
    (end <= BUFFER_SIZE).then_some(start..end)
}

fn read_buffer(range: core::ops::Range<usize>) -> Vec<u8> {
    // SAFETY: single-threaded, no reference into the buffer outlives these helpers, and
    // `range` was checked to lie within it.
    unsafe { at(&*BUFFER.0.get(), range).to_vec() }
}

fn write_buffer(offset: usize, bytes: &[u8]) {
    let end = (offset + bytes.len()).min(BUFFER_SIZE);
    // SAFETY: as in `read_buffer`; the range is clamped to the buffer.
    unsafe { at_mut(&mut *BUFFER.0.get(), offset..end).copy_from_slice(at(bytes, ..end - offset)) }
}

fn fail(state: &mut State, failure: Failure) -> i32 {
    state.last_error = failure.message;
    Status::from(failure.kind) as i32
}

fn bad_input(state: &mut State, message: &str) -> i32 {
    fail(state, Failure::new(ErrorKind::BadInput, message))
}

/// Publishes a run's outcome into `state.result` and the buffer; returns the status.
fn publish(state: &mut State, outcome: Result<Vec<u8>, Failure>) -> i32 {
    match outcome {
        Ok(bytes) if bytes.len() <= i32::MAX as usize => {
            state.result = bytes;
            write_buffer(0, &state.result);
            state.result.len() as i32
        }
        Ok(_) => publish(
            state,
            Err(Failure::new(ErrorKind::Runtime, "result too large")),
        ),
        Err(failure) => {
            let text = failure.with_traceback();
            let mut payload = Vec::with_capacity(4 + text.len());
            payload.extend_from_slice(&(text.len() as u32).to_le_bytes());
            payload.extend_from_slice(text.as_bytes());
            state.result = payload;
            write_buffer(0, &state.result);
            let status = Status::from(failure.kind) as i32;
            state.last_error = failure.message;
            status
        }
    }
}

/// Creates (or re-creates) the Lua state. Limits, chunk name and the binary-chunk and
/// function-handle switches carry over; handles given out before are gone. Returns 0.
#[no_mangle]
pub extern "C" fn init() -> i32 {
    let Ok(mut slot) = STATE.0.try_borrow_mut() else {
        return Status::BadInput as i32;
    };
    let (limits, name, binary, handles) = match slot.take() {
        Some(old) => (
            old.limits,
            old.chunk_name,
            old.binary_chunks,
            old.function_handles,
        ),
        None => (Limits::default(), DEFAULT_CHUNK_NAME.into(), false, false),
    };
    *slot = Some(State::new(limits, name, binary, handles));
    Status::Ok as i32
}

/// The ABI version this module speaks (1).
#[no_mangle]
pub extern "C" fn abi_version() -> u32 {
    ABI_VERSION
}

#[no_mangle]
pub extern "C" fn get_buffer_ptr() -> u32 {
    buffer_ptr() as u32
}

#[no_mangle]
pub extern "C" fn get_buffer_size() -> u32 {
    BUFFER_SIZE as u32
}

/// Runs the chunk at `code_ptr` (inside the IO buffer) to completion.
#[no_mangle]
pub extern "C" fn compute(code_ptr: u32, code_len: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let Some(range) = buffer_range(code_ptr, code_len) else {
            return publish(
                state,
                Err(Failure::new(
                    ErrorKind::BadInput,
                    "code must lie inside the IO buffer",
                )),
            );
        };
        let code = read_buffer(range);
        let outcome = state.engine.compute(&state.chunk_name, &code);
        publish(state, outcome)
    })
}

/// Forgets any staged input.
#[no_mangle]
pub extern "C" fn input_reset() {
    with_state((), |state| state.input = Vec::new());
}

/// Appends the first `len` bytes of the IO buffer to the staged input. Returns 0 or -5.
#[no_mangle]
pub extern "C" fn input_append(len: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        if len as usize > BUFFER_SIZE {
            return bad_input(state, "input_append: length exceeds the IO buffer");
        }
        if state.input.len() + len as usize > state.limits.source_bytes {
            return bad_input(state, "input_append: staged chunk exceeds the source limit");
        }
        let bytes = read_buffer(0..len as usize);
        state.input.extend_from_slice(&bytes);
        Status::Ok as i32
    })
}

/// Runs the staged input to completion, as `compute` does.
#[no_mangle]
pub extern "C" fn compute_input() -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let code = core::mem::take(&mut state.input);
        let outcome = state.engine.compute(&state.chunk_name, &code);
        publish(state, outcome)
    })
}

/// Compiles the staged input for `resume`. Returns 0, or a failure as `compute` does.
#[no_mangle]
pub extern "C" fn start_input() -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let code = core::mem::take(&mut state.input);
        match state.engine.start(&state.chunk_name, &code) {
            Ok(()) => Status::Ok as i32,
            Err(failure) => publish(state, Err(failure)),
        }
    })
}

/// Prepares a call of a function handle from the staged input (see the protocol above).
#[no_mangle]
pub extern "C" fn call_input() -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let input = core::mem::take(&mut state.input);
        match state.engine.start_call(&input) {
            Ok(()) => Status::Ok as i32,
            Err(failure) => publish(state, Err(failure)),
        }
    })
}

/// Functions in results become handles (1) or stay opaque (0, the default). Returns 0.
#[no_mangle]
pub extern "C" fn set_function_handles(enabled: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        state.function_handles = enabled != 0;
        state.engine.set_function_handles(state.function_handles);
        Status::Ok as i32
    })
}

/// Answers the waiting host function with the staged input (see the protocol above).
#[no_mangle]
pub extern "C" fn host_return() -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let answer = core::mem::take(&mut state.input);
        match state.engine.host_return(&answer) {
            Ok(()) => Status::Ok as i32,
            Err(f) => fail(state, f),
        }
    })
}

/// Lets the module collect the function behind `handle`. 0, or -5 if it names none.
#[no_mangle]
pub extern "C" fn release_handle(handle: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        if state.engine.release_handle(handle) {
            Status::Ok as i32
        } else {
            bad_input(state, "release_handle: no such function handle")
        }
    })
}

/// Lets the module forget upvalue cell `id`, which no stored function refers to any more
/// (the host dropped its table). Returns 0.
#[no_mangle]
pub extern "C" fn release_cell(id: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        state.engine.release_cell(id);
        Status::Ok as i32
    })
}

/// Runs the started chunk for about `fuel` instructions: -6 while work remains.
#[no_mangle]
pub extern "C" fn resume(fuel: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        match state.engine.resume(fuel.max(1) as u64) {
            Step::Pending => Status::Pending as i32,
            Step::Finished(outcome) => publish(state, outcome),
            Step::Waiting(call) => {
                state.result = Vec::with_capacity(4 + call.len());
                state
                    .result
                    .extend_from_slice(&(call.len() as u32).to_le_bytes());
                state.result.extend_from_slice(&call);
                write_buffer(0, &state.result);
                Status::WaitingForHost as i32
            }
        }
    })
}

/// Copies result bytes `[offset, offset + 64 KiB)` into the buffer; returns the count.
#[no_mangle]
pub extern "C" fn result_read(offset: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let Some(rest) = state.result.get(offset as usize..) else {
            return bad_input(state, "result_read: offset past the end of the result");
        };
        let n = rest.len().min(BUFFER_SIZE);
        write_buffer(0, &rest[..n]);
        n as i32
    })
}

/// Names the chunks run from now on (`=name`, `@file`, or source text as Lua does).
#[no_mangle]
pub extern "C" fn set_chunk_name(ptr: u32, len: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let Some(range) = buffer_range(ptr, len) else {
            return bad_input(state, "set_chunk_name: name must lie inside the IO buffer");
        };
        // Valid UTF-8 exactly when borrowed: the module has this check already, where
        // `String::from_utf8` would add a second UTF-8 validator.
        match String::from_utf8_lossy(&read_buffer(range)) {
            Cow::Borrowed(name) => {
                state.chunk_name = name.into();
                Status::Ok as i32
            }
            Cow::Owned(_) => bad_input(state, "set_chunk_name: name is not UTF-8"),
        }
    })
}

/// Sets the strings the next chunk gets as `...`: `u32 count` then `count` encoded strings.
#[no_mangle]
pub extern "C" fn set_chunk_args(ptr: u32, len: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let Some(range) = buffer_range(ptr, len) else {
            return bad_input(
                state,
                "set_chunk_args: arguments must lie inside the IO buffer",
            );
        };
        let bytes = read_buffer(range);
        let mut reader = engine::codec::Reader::new(&bytes);
        let mut args = Vec::new();
        let count = reader.u32().unwrap_or(0);
        for _ in 0..count {
            match reader.item() {
                Ok(engine::codec::Item::String(s)) => args.push(s.to_vec()),
                _ => return bad_input(state, "set_chunk_args: arguments must be strings"),
            }
        }
        if !reader.is_empty() || bytes.len() < 4 {
            return bad_input(state, "set_chunk_args: malformed argument list");
        }
        state.engine.set_chunk_args(args);
        Status::Ok as i32
    })
}

/// The next chunk's results go to the global `print` (lua5.4's interactive loop). Returns 0.
#[no_mangle]
pub extern "C" fn print_next_results() -> i32 {
    with_state(Status::BadInput as i32, |state| {
        state.engine.print_next_results();
        Status::Ok as i32
    })
}

/// Instructions per run; 0 removes the limit. A float so budgets above 2^32 fit.
#[no_mangle]
pub extern "C" fn set_instruction_limit(instructions: f64) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        if instructions.is_nan() || instructions < 0.0 {
            return bad_input(state, "instruction limit must be a non-negative number");
        }
        state.limits.instructions = instructions as u64;
        state.engine.set_limits(state.limits);
        Status::Ok as i32
    })
}

/// The largest Lua heap: what the allocator adds to the heap (per-object overhead, up to
/// half again for millions of tiny objects, and fragmentation) must still fit in wasm32's
/// 4 GiB, so that the heap cap, not a failed `memory.grow`, stops a script.
const MAX_HEAP: u32 = 2 << 30;

/// Bytes the Lua heap may hold (at most 2 GiB: a larger limit is lowered to that).
#[no_mangle]
pub extern "C" fn set_memory_limit(bytes: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        if bytes < 1024 * 1024 {
            return bad_input(state, "memory limit below 1 MiB");
        }
        state.limits.heap_bytes = bytes.min(MAX_HEAP) as usize;
        state.engine.set_limits(state.limits);
        Status::Ok as i32
    })
}

/// Lets `load` accept binary chunks (1) or not (0, the default). Returns 0.
#[no_mangle]
pub extern "C" fn set_binary_chunks(enabled: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        state.binary_chunks = enabled != 0;
        state.engine.set_binary_chunks(state.binary_chunks);
        Status::Ok as i32
    })
}

/// Writes `u32 len` + the last error message into the buffer; returns the bytes written.
#[no_mangle]
pub extern "C" fn get_last_error() -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let msg = state.last_error.as_bytes();
        let n = msg.len().min(BUFFER_SIZE - 4);
        write_buffer(0, &(n as u32).to_le_bytes());
        write_buffer(4, &msg[..n]);
        (n + 4) as i32
    })
}

/// Allocates an external-table id (only the module allocates ids). 0 means exhausted.
#[no_mangle]
pub extern "C" fn ext_table_new() -> u32 {
    with_state(0, |state| match state.engine.table_new() {
        Ok(id) => id,
        Err(f) => {
            fail(state, f);
            0
        }
    })
}

fn args(state: &mut State, spans: &[(u32, u32)]) -> Result<Vec<Vec<u8>>, i32> {
    let mut out = Vec::with_capacity(spans.len());
    for &(ptr, len) in spans {
        match buffer_range(ptr, len) {
            Some(range) => out.push(read_buffer(range)),
            None => {
                return Err(bad_input(
                    state,
                    "argument bytes must lie inside the IO buffer",
                ))
            }
        }
    }
    Ok(out)
}

/// Stores an encoded value (nil deletes). 0, or -5 with `get_last_error`.
#[no_mangle]
pub extern "C" fn ext_table_set(id: u32, kptr: u32, klen: u32, vptr: u32, vlen: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let bytes = match args(state, &[(kptr, klen), (vptr, vlen)]) {
            Ok(b) => b,
            Err(code) => return code,
        };
        // `args` gives one byte string per span.
        match state.engine.table_set(id, at(&bytes, 0), at(&bytes, 1)) {
            Ok(()) => Status::Ok as i32,
            Err(f) => fail(state, f),
        }
    })
}

/// -1 when absent, else the value's full length, written at `vptr` only if it fits in `max`.
#[no_mangle]
pub extern "C" fn ext_table_get(id: u32, kptr: u32, klen: u32, vptr: u32, max: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let keys = match args(state, &[(kptr, klen)]) {
            Ok(b) => b,
            Err(code) => return code,
        };
        let key = at(&keys, 0);
        let Some(out) = buffer_range(vptr, max) else {
            return bad_input(state, "ext_table_get: output must lie inside the IO buffer");
        };
        match state.engine.table_get(id, key) {
            Ok(None) => -1,
            Ok(Some(value)) => {
                if value.len() <= out.len() {
                    write_buffer(out.start, &value);
                }
                value.len() as i32
            }
            Err(f) => fail(state, f),
        }
    })
}

#[no_mangle]
pub extern "C" fn ext_table_delete(id: u32, kptr: u32, klen: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let keys = match args(state, &[(kptr, klen)]) {
            Ok(b) => b,
            Err(code) => return code,
        };
        let key = at(&keys, 0);
        match state.engine.table_delete(id, key) {
            Ok(()) => Status::Ok as i32,
            Err(f) => fail(state, f),
        }
    })
}

/// Number of entries, or -5.
#[no_mangle]
pub extern "C" fn ext_table_size(id: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        match state.engine.table_size(id) {
            Ok(n) => n.min(i32::MAX as u32) as i32,
            Err(f) => fail(state, f),
        }
    })
}

/// `u32 count` + every key; returns the full length, written only if it fits in `max`.
#[no_mangle]
pub extern "C" fn ext_table_keys(id: u32, buf: u32, max: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let Some(out) = buffer_range(buf, max) else {
            return bad_input(
                state,
                "ext_table_keys: output must lie inside the IO buffer",
            );
        };
        match state.engine.table_keys(id) {
            Ok(keys) => {
                if keys.len() <= out.len() {
                    write_buffer(out.start, &keys);
                }
                keys.len() as i32
            }
            Err(f) => fail(state, f),
        }
    })
}

/// The id of `_home` / `Memory`.
#[no_mangle]
pub extern "C" fn get_memory_table_id() -> u32 {
    with_state(0, |state| state.engine.memory_table_id())
}

/// The id of `_io` (reserved: 0).
#[no_mangle]
pub extern "C" fn get_io_table_id() -> u32 {
    engine::ext::IO_TABLE_ID
}

/// Points `_home` and `Memory` at table `id`; the counter becomes at least `id + 1`.
#[no_mangle]
pub extern "C" fn attach_memory_table(id: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        match state.engine.attach_memory_table(id) {
            Ok(()) => Status::Ok as i32,
            Err(f) => fail(state, f),
        }
    })
}

/// Raises the id counter to `next` (never lowers it).
#[no_mangle]
pub extern "C" fn sync_external_table_counter(next: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        state.engine.sync_table_counter(next);
        Status::Ok as i32
    })
}

/// The next id `ext_table_new` would hand out.
#[no_mangle]
pub extern "C" fn get_external_table_counter() -> u32 {
    with_state(0, |state| state.engine.next_table_id())
}

/// Writes seven little-endian u32 at `ptr` (inside the buffer): ABI version, IO buffer size,
/// wasm pages, Lua heap bytes, Lua heap limit, next table id, memory table id. Returns 28.
#[no_mangle]
pub extern "C" fn get_memory_stats(ptr: u32) -> i32 {
    with_state(Status::BadInput as i32, |state| {
        let Some(range) = buffer_range(ptr, 28) else {
            return bad_input(
                state,
                "get_memory_stats: pointer must lie inside the IO buffer",
            );
        };
        let clamp = |n: usize| n.min(u32::MAX as usize) as u32;
        let fields = [
            ABI_VERSION,
            BUFFER_SIZE as u32,
            core::arch::wasm32::memory_size(0) as u32,
            clamp(state.engine.heap_bytes()),
            clamp(state.limits.heap_bytes),
            state.engine.next_table_id(),
            state.engine.memory_table_id(),
        ];
        let mut bytes = [0u8; 28];
        for (i, f) in fields.iter().enumerate() {
            bytes[i * 4..i * 4 + 4].copy_from_slice(&f.to_le_bytes());
        }
        write_buffer(range.start, &bytes);
        28
    })
}

/// Runs a full garbage collection.
#[no_mangle]
pub extern "C" fn run_gc() {
    with_state((), |state| state.engine.collect_garbage());
}
