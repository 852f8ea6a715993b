//! A stackless Lua 5.4 virtual machine on gc-arena.
//!
//! Source text goes through [`compiler::compile`] to a plain [`proto::FunctionProto`]; the VM
//! loads prototypes into a GC arena and runs them in slices of fuel, never recursing on the
//! Rust stack for Lua calls, metamethods, `pcall` or coroutines.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod buffer;
mod checked;
pub mod external;
pub mod function;
mod gc;
pub mod host;
pub mod interp;
pub mod state;
pub mod string;
pub mod table;
pub mod thread;
pub mod userdata;
pub mod value;

pub use external::External;
pub use host::{HostError, HostFile, HostResult, OpenMode, ProcessEnd, Whence};
pub use lua_persist_chunk::{compiler, dump};
pub use lua_persist_proto::{bytecode, decimal, number, proto};
pub use state::{Config, Ctx, ExitRequest, Host, Lua, RuntimeError, Step};
pub use value::{Function, Type, Value};

/// What a library of native functions is written against, beyond the value types: the
/// calling interface, metatables and metamethods as the interpreter sees them, error
/// descriptions and tracebacks, and strings built within the state's limits. Raw access that
/// serves external tables too is [`external`]'s.
pub mod lib {
    pub use crate::buffer::{append, charge_bytes, grow, reserve};
    pub use crate::checked::{at, at_mut, bug, cell_mut, cell_ref};
    pub use crate::gc::note_metatable;
    pub use crate::interp::describe::{call_site_name, current_line, frame_name, traceback};
    pub use crate::interp::hook;
    pub use crate::interp::meta::{
        compare_error, event_of, key_error, metamethod, metatable_of, primitive_order, raw_set,
        tostring_plain, MAX_TAG_LOOP,
    };
    pub use crate::interp::{
        arith_numbers, to_number, type_name_for_message, Action, ArithOp, Catch, Cont, ContFn,
        Error, MetaEvent, NativeCall, NativeFn, Outcome,
    };
}
