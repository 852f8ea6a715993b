//! The chunk name as error messages show it, formatted the way lua5.4 formats it.

use alloc::vec::Vec;

/// Room lua5.4 gives a chunk id, its terminating NUL included.
const ID_SIZE: usize = 60;

/// `=name` → `name`, `@file` → `file` (keeping the end of a long path after `...`), any other
/// name (source text) → `[string "first line..."]`.
pub fn chunk_id(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ID_SIZE);
    match name.first() {
        Some(b'=') => {
            let rest = &name[1..];
            out.extend_from_slice(&rest[..rest.len().min(ID_SIZE - 1)]);
        }
        Some(b'@') => {
            let rest = &name[1..];
            if name.len() <= ID_SIZE {
                out.extend_from_slice(rest);
            } else {
                // "..." and the last characters that fit beside it and the NUL.
                let keep = ID_SIZE - 3 - 1;
                out.extend_from_slice(b"...");
                out.extend_from_slice(&rest[rest.len() - keep..]);
            }
        }
        _ => {
            // Room left after `[string "`, `..."]` and the NUL.
            let room = ID_SIZE - (9 + 3 + 2) - 1;
            let newline = name.iter().position(|&c| c == b'\n');
            out.extend_from_slice(b"[string \"");
            if name.len() < room && newline.is_none() {
                out.extend_from_slice(name);
            } else {
                let line = &name[..newline.unwrap_or(name.len())];
                out.extend_from_slice(&line[..line.len().min(room)]);
                out.extend_from_slice(b"...");
            }
            out.extend_from_slice(b"\"]");
        }
    }
    out
}
