//! Binary chunks: `string.dump`'s output and what `load` accepts in mode `b`.
//!
//! The format is ours, not PUC-Rio's (our instructions are not theirs), and every chunk that
//! is read goes through [`verify`] before the VM sees it: no byte sequence can make the VM
//! panic, index out of bounds or hang.
//!
//! # Format (version 1)
//!
//! ```text
//! chunk     = "\x1bLua" "~LP" version:u16 (little endian) "\x19\x93\r\n\x1a\n" proto
//! proto     = source line_defined:uv last_line_defined:uv num_params:u8 is_vararg:u8
//!             max_stack:u8 code constants upvalues protos lines locals upvalue_names
//! source    = uv n: 0 = the enclosing function's source ("=?" for the main function),
//!             otherwise n-1 bytes
//! code      = uv count, then count × (opcode:u8 operands)
//! constants = uv count, then count × (tag:u8 payload):
//!             0 nil, 1 false, 2 true, 3 integer sv, 4 float as its 8 bits (little endian),
//!             5 string (uv length, bytes)
//! upvalues  = uv count, then count × (in_stack:u8 index:u8)
//! protos    = uv count, then count × proto
//! lines     = uv count (0 or the code's length), then each line as sv from the previous
//!             one (the first from line_defined)
//! locals    = uv count, then count × (name reg:u8 start_pc:uv (end_pc - start_pc):uv)
//! upvalue_names = uv count (0 or the upvalues' count), then count × name
//! name      = uv length, bytes
//! ```
//!
//! `uv` is an unsigned LEB128 varint, `sv` a zigzag-encoded one. Operands follow the fields
//! of [`Op`](crate::bytecode::Op) in order: `u8` and `i8` fields as one byte, `bool` as one
//! byte 0 or 1, `u32` as uv, `i32` and `i16` as sv (see `ops.rs` for the opcode numbers).
//!
//! The signature starts like lua5.4's (so `load` sees a binary chunk) but goes on with our
//! marker where lua5.4 has its version byte: lua5.4 refuses our chunks ("version mismatch")
//! and we recognise and refuse its chunks with a message saying so. The six bytes after the
//! version (lua5.4 has the same) catch chunks mangled as text on the way: line ends
//! translated, a DOS end-of-file byte, the high bit stripped. Stripping (`strip`)
//! drops the source (functions read back say `=?`, as in lua5.4), lines, local variables
//! and upvalue names.

mod ops;
mod read;
mod verify;
mod write;

use alloc::string::String;
use alloc::vec::Vec;

use crate::bytecode::Op;
use crate::proto::FunctionProto;

pub use verify::{verify, MAX_DEPTH};

/// First bytes of every binary chunk; `load` tells binary from text by the first one.
pub const SIGNATURE: &[u8] = b"\x1bLua";
/// What follows the signature in our chunks (lua5.4 has its version byte `0x54` there).
pub const MARKER: &[u8] = b"~LP";
/// Version of the format after the marker; bumped whenever the encoding changes.
pub const FORMAT_VERSION: u16 = 1;
/// After the version: bytes that text-mode transfers change.
pub const TEXT_CHECK: &[u8] = b"\x19\x93\r\n\x1a\n";
/// Bytes before the main prototype.
pub const HEADER_LEN: usize = SIGNATURE.len() + MARKER.len() + 2 + TEXT_CHECK.len();

/// Serialises a prototype and its nested ones. `strip` leaves out the debug information
/// (source, lines, local variables, upvalue names).
pub fn dump(proto: &FunctionProto, strip: bool) -> Vec<u8> {
    write::chunk(proto, strip)
}

/// Reads and verifies a binary chunk. Errors read as lua5.4 words them:
/// `<chunk>: bad binary format (<what>)`, with `<chunk>` derived from `chunk_name` the way
/// `load` names chunks (`@file` and `=name` lose their first character, a name that is
/// itself a binary chunk becomes `binary string`).
pub fn undump(bytes: &[u8], chunk_name: &[u8]) -> Result<FunctionProto, String> {
    read::chunk(bytes)
        .map_err(String::from)
        .and_then(|proto| verify(&proto).map(|()| proto))
        .map_err(|what| {
            let mut message = String::from_utf8_lossy(display_name(chunk_name)).into_owned();
            message.push_str(": bad binary format (");
            message.push_str(&what);
            message.push(')');
            message
        })
}

/// Decodes one instruction as chunks store it (the VM's fuzz tests make random ones so).
pub fn decode_op(bytes: &[u8]) -> Option<Op> {
    ops::read_op(&mut read::Reader::new(bytes)).ok()
}

/// The name lua5.4's loader puts in front of its messages.
fn display_name(chunk_name: &[u8]) -> &[u8] {
    match chunk_name.first() {
        Some(b'@' | b'=') => &chunk_name[1..],
        Some(&first) if first == SIGNATURE[0] => b"binary string",
        _ => chunk_name,
    }
}
