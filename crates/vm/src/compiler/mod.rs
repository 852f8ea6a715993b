//! Lua 5.4 source to [`FunctionProto`]: lexer, parser, code generator.

use alloc::string::String;

use crate::proto::FunctionProto;

/// A syntax error, worded as lua5.4 words it (`chunk:line: message near 'token'`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
}

/// Compiles a chunk. `chunk_name` is the name `load` was given (`"=stdin"`, `"@file.lua"` or
/// the source itself); the main function is vararg with one upvalue, `_ENV`.
pub fn compile(_source: &[u8], _chunk_name: &[u8]) -> Result<FunctionProto, SyntaxError> {
    unimplemented!("the compiler lands in the next commits")
}
