//! The interpreter: the dispatch loop, calls and returns, metamethods, errors, and the
//! interface native functions are written against.
//!
//! Nothing here recurses on the Rust stack per Lua call: a call pushes a frame and the loop
//! goes on with it; a native function that needs to call back into Lua returns an
//! [`Action`] saying "call this, then continue with that".

mod arith;
mod call;
mod describe;
mod exec;
pub(crate) mod hook;
mod meta;
mod native;
mod unwind;

pub use arith::{arith_numbers, ArithOp};
pub(crate) use call::{call_finalizer, raise_in, run, Exit};
pub(crate) use describe::{call_site_name, current_line, frame_name, traceback};
pub use meta::MetaEvent;
pub(crate) use meta::{
    compare_error, event_of, key_error, metamethod, metatable_of, primitive_order, raw_set,
    tostring_plain, MAX_TAG_LOOP,
};
pub use native::{
    to_number, type_name_for_message, Action, Catch, Cont, ContFn, Error, NativeCall, NativeFn,
    Outcome,
};
