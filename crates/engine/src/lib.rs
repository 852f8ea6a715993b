//! The safe, native-testable core of lua-persist.
//!
//! [`Engine`] is one Lua state whose `_home` table (alias `Memory`), `_io` table and
//! `ext.table()` tables live in a [`Host`]. [`codec`] is the byte encoding that crosses the
//! wasm boundary. `crates/wasm` wraps all of this in C-ABI exports.
#![forbid(unsafe_code)]

pub mod codec;
pub mod ext;
pub mod host;
pub mod session;

pub use host::{Host, HostError, MemoryHost};
pub use session::{display_chunk_name, Engine, ErrorKind, Failure, Limits, Step};
