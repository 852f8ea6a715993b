//! A stackless Lua 5.4 virtual machine on gc-arena.
//!
//! Source text goes through [`compiler::compile`] to a plain [`proto::FunctionProto`]; the VM
//! loads prototypes into a GC arena and runs them in slices of fuel, never recursing on the
//! Rust stack for Lua calls, metamethods, `pcall` or coroutines.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod checked;
pub mod external;
pub mod function;
mod gc;
pub mod host;
pub mod interp;
pub mod state;
pub mod stdlib;
pub mod string;
pub mod table;
pub mod thread;
pub mod userdata;
pub mod value;

#[cfg(test)]
mod dump_tests;

use lua_persist_proto::decimal;

pub use external::External;
pub use host::{HostError, HostFile, HostResult, OpenMode, ProcessEnd, Whence};
pub use lua_persist_chunk::{compiler, dump};
pub use lua_persist_proto::{bytecode, number, proto};
pub use state::{Config, Ctx, ExitRequest, Host, Lua, RuntimeError, Step};
pub use value::{Function, Type, Value};
