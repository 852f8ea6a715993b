//! The parts of Lua 5.4's standard library that piccolo 0.3.3 does not ship.
//!
//! Everything here is safe Rust on piccolo's callback API. The outside world (output, clock,
//! entropy) is reached only through [`Platform`], so the same library runs natively in tests
//! and inside the wasm module.
#![forbid(unsafe_code)]

use std::rc::Rc;

use piccolo::{compiler::ParseErrorKind, Closure, Context, PrototypeError, Table};

mod args;
mod base;
mod coroutine;
mod format;
mod math;
mod num;
mod os;
mod pack;
mod pattern;
mod string;
mod table;
mod utf8;

use table::num_lt as table_lt;

/// What the library needs from the world around the VM.
pub trait Platform {
    /// Receives everything `print` writes, as raw bytes.
    fn write_output(&self, bytes: &[u8]);
    /// Wall-clock time in milliseconds since the Unix epoch (`os.time`, `os.date`).
    fn now_ms(&self) -> f64;
    /// A monotonic clock in milliseconds (`os.clock`).
    fn clock_ms(&self) -> f64;
    /// Fills `buf` with random bytes (seeds `math.random`).
    fn fill_random(&self, buf: &mut [u8]);
}

/// Registers the library in `ctx`'s globals, replacing piccolo's partial versions.
pub fn load<'gc>(ctx: Context<'gc>, platform: Rc<dyn Platform>) {
    base::load(ctx, platform.clone());
    coroutine::load(ctx);
    math::load(ctx, platform.clone());
    string::load(ctx);
    table::load(ctx);
    utf8::load(ctx);
    os::load(ctx, platform);
}

/// Compiles a text chunk with `env` as its `_ENV`; errors read `chunk:line: message`.
pub fn compile<'gc>(
    ctx: Context<'gc>,
    chunk_name: &[u8],
    source: &[u8],
    env: Table<'gc>,
) -> Result<Closure<'gc>, String> {
    let name = String::from_utf8_lossy(chunk_name);
    Closure::load_with_env(ctx, Some(&name), source, env)
        .map_err(|e| syntax_message(&display_chunk_name(chunk_name), &e))
}

/// The engine's format for compile errors: `chunk:line: message`.
fn syntax_message(chunk: &str, error: &PrototypeError) -> String {
    match error {
        PrototypeError::Parser(e) => {
            let detail = match &e.kind {
                ParseErrorKind::RecursionLimit => "chunk has too many syntax levels".to_string(),
                kind => kind.to_string(),
            };
            format!("{chunk}:{}: {detail}", e.line_number)
        }
        PrototypeError::Compiler(e) => format!("{chunk}:{}: {}", e.line_number, e.kind),
    }
}

/// How Lua shows a chunk name in messages (`luaO_chunkid`).
pub fn display_chunk_name(name: &[u8]) -> String {
    const ID_SIZE: usize = 60;
    match name.first() {
        Some(b'=') | Some(b'@') => String::from_utf8_lossy(&name[1..]).into_owned(),
        _ => {
            let text = String::from_utf8_lossy(name);
            let first_line = text.lines().next().unwrap_or("");
            let room = ID_SIZE - "[string \"...\"]".len() - 1;
            if first_line.len() < text.len() || first_line.len() > room {
                let mut cut = first_line.len().min(room);
                while !first_line.is_char_boundary(cut) {
                    cut -= 1;
                }
                format!("[string \"{}...\"]", &first_line[..cut])
            } else {
                format!("[string \"{first_line}\"]")
            }
        }
    }
}
