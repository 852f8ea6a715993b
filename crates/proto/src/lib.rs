//! What the compiler and the VM share: [`proto::FunctionProto`] (plain data, outside any GC
//! arena), its instructions ([`bytecode::Op`]), and Lua's number semantics ([`number`]), which
//! constant folding must apply exactly as the interpreter does.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod bytecode;
pub mod decimal;
pub mod number;
pub mod proto;
