//! The safe, native-testable core of lua-persist.
//!
//! [`Engine`] is one Lua state whose `_home` table (alias `Memory`), `_io` table and
//! `ext.table()` tables live in a [`Host`]. [`codec`] is the byte encoding that crosses the
//! wasm boundary. `crates/wasm` wraps all of this in C-ABI exports.
#![forbid(unsafe_code)]

pub mod codec;
pub mod ext;
pub mod function;
pub mod handles;
pub mod host;
pub mod session;

pub use host::{Host, HostError, MemoryHost};

/// Routes panic messages to `record` (the wasm module keeps the last one for the host to
/// read after a trap, since `panic = "abort"` leaves nothing else behind).
pub fn set_panic_recorder(record: fn(&str)) {
    std::panic::set_hook(Box::new(move |info| record(&info.to_string())));
}
pub use session::{display_chunk_name, Engine, ErrorKind, Failure, Limits, Step};
