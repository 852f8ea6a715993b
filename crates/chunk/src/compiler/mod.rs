//! Lua 5.4 source to [`FunctionProto`]: lexer, parser, code generator.
//!
//! One pass, as in lua5.4: the parser reads tokens and drives the code generator, so
//! registers, lines and errors come out in the order lua5.4 gives them. Nesting is bounded
//! (lua5.4's limit of about 200 levels), so no input can exhaust the native stack.

mod chunkid;
mod code;
mod disasm;
mod fold;
mod lexer;
mod numeral;
mod parse;
#[cfg(test)]
mod tests;

use alloc::rc::Rc;
use alloc::vec::Vec;

pub use chunkid::chunk_id;
pub use disasm::listing;

use crate::proto::FunctionProto;

/// A syntax error, worded as lua5.4 words it (`chunk:line: message near 'token'`).
///
/// The message is bytes, not UTF-8: it quotes the source (and the chunk name) as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: Vec<u8>,
}

/// Compiles a chunk. `chunk_name` is the name `load` was given (`"=stdin"`, `"@file.lua"` or
/// the source itself); the main function is vararg with one upvalue, `_ENV`.
///
/// The name ends at its first NUL byte, as the C string lua5.4 makes of it.
pub fn compile(source: &[u8], chunk_name: &[u8]) -> Result<FunctionProto, SyntaxError> {
    let name = match chunk_name.iter().position(|&c| c == 0) {
        Some(end) => &chunk_name[..end],
        None => chunk_name,
    };
    parse::Parser::parse_chunk(source, Rc::from(name))
}
