//! Chunks to [`FunctionProto`](proto::FunctionProto)s: [`compiler`] for source text, [`dump`]
//! for binary chunks (written by `string.dump`, read back and verified by `load`).
//!
//! A crate of its own so that the `wasm` profile can build it for size: loading is cold next
//! to the interpreter.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod compiler;
pub mod dump;

use lua_persist_proto::{bytecode, decimal, number, proto};
