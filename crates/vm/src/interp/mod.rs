//! The interpreter: the dispatch loop, calls and returns, metamethods, errors, and the
//! interface native functions are written against.
//!
//! Nothing here recurses on the Rust stack per Lua call: a call pushes a frame and the loop
//! goes on with it; a native function that needs to call back into Lua returns an
//! [`Action`] saying "call this, then continue with that".

mod arith;
mod call;
pub(crate) mod describe;
mod exec;
mod fuse;
pub mod hook;
pub(crate) mod meta;
mod native;
mod unwind;

pub use arith::{arith_numbers, ArithOp};
pub(crate) use call::{call_finalizer, raise_in, run, Exit};
pub use meta::MetaEvent;
pub(crate) use meta::{metamethod, metatable_of, raw_set, tostring_plain};
pub use native::{
    to_number, type_name_for_message, Action, Catch, Cont, ContFn, Error, NativeCall, NativeFn,
    Outcome,
};
