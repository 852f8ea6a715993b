//! The parts of Lua 5.4's standard library that piccolo 0.3.3 does not ship.
//!
//! Everything here is safe Rust on piccolo's callback API. The outside world (output, clock,
//! entropy) is reached only through [`Platform`], so the same library runs natively in tests
//! and inside the wasm module.
#![forbid(unsafe_code)]

use std::rc::Rc;

use piccolo::{Callback, CallbackReturn, Context, Value};

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

/// Registers the library in `ctx`'s globals, on top of piccolo's core library.
pub fn load<'gc>(ctx: Context<'gc>, platform: Rc<dyn Platform>) {
    piccolo::stdlib::load_base(ctx);
    piccolo::stdlib::load_coroutine(ctx);
    piccolo::stdlib::load_math(ctx);
    piccolo::stdlib::load_string(ctx);
    piccolo::stdlib::load_table(ctx);
    load_print(ctx, platform);
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

fn load_print<'gc>(ctx: Context<'gc>, platform: Rc<dyn Platform>) {
    let print = Callback::from_fn(&ctx, move |ctx, _, mut stack| {
        let mut line = Vec::new();
        for (i, value) in stack.drain(..).enumerate() {
            if i > 0 {
                line.push(b'\t');
            }
            write_plain(ctx, value, &mut line);
        }
        line.push(b'\n');
        platform.write_output(&line);
        Ok(CallbackReturn::Return)
    });
    ctx.set_global("print", print).unwrap();
}

fn write_plain<'gc>(_ctx: Context<'gc>, value: Value<'gc>, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        v => out.extend_from_slice(v.to_string().as_bytes()),
    }
}
