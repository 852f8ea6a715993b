//! The parts of Lua 5.4's standard library that piccolo 0.3.3 does not ship.
//!
//! Everything here is safe Rust on piccolo's callback API. The outside world (output, clock,
//! entropy) is reached only through [`Platform`], so the same library runs natively in tests
//! and inside the wasm module.
#![forbid(unsafe_code)]

use std::rc::Rc;

use piccolo::{
    compiler::{self, ParseErrorKind},
    Closure, Context, FunctionPrototype, PrototypeError, Table, Value,
};

mod args;
mod base;
mod coroutine;
mod format;
mod math;
mod methods;
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
    let proto = compile_prototype(ctx, chunk_name, source)?;
    Ok(main_closure(ctx, proto, env))
}

/// The closure for a main function: `_ENV` first; the method-call helper second when the
/// chunk has one (see `methods.rs`); any further upvalues nil, as Lua's `load` does.
pub fn main_closure<'gc>(
    ctx: Context<'gc>,
    proto: FunctionPrototype<'gc>,
    env: impl Into<Value<'gc>>,
) -> Closure<'gc> {
    use piccolo::closure::{UpValue, UpValueState};
    let binds_invoke = proto.upvalues.len() >= 2
        && matches!(
            proto.opcodes.first().map(|op| op.decode()),
            Some(piccolo::opcode::Operation::GetUpValue { dest, source })
                if dest.0 == 0 && source.0 == 1
        );
    let env = env.into();
    let mut upvalues = allocator_api2::vec::Vec::with_capacity_in(
        proto.upvalues.len(),
        gc_arena::allocator_api::MetricsAlloc::new(&ctx),
    );
    for i in 0..proto.upvalues.len() {
        let v = match i {
            0 => env,
            1 if binds_invoke => Value::Function(methods::invoke(ctx).into()),
            _ => Value::Nil,
        };
        upvalues.push(UpValue::new(&ctx, UpValueState::Closed(v)));
    }
    Closure::from_parts(&ctx, gc_arena::Gc::new(&ctx, proto), upvalues)
}

/// A Lua error `msg` prefixed with the calling Lua code's `chunk:line:`, like `luaL_error`.
pub fn located_error<'gc>(
    ctx: Context<'gc>,
    exec: &piccolo::Execution<'gc, '_>,
    msg: &str,
) -> piccolo::Error<'gc> {
    args::error(ctx, exec, msg)
}

/// The method-call helper, for code that stores functions (it is an upvalue of every function
/// compiled from a chunk that makes method calls).
pub fn method_call_helper<'gc>(ctx: Context<'gc>) -> piccolo::Callback<'gc> {
    methods::invoke(ctx)
}

/// Compiles a text chunk to a prototype, with the tail-call fix applied.
pub fn compile_prototype<'gc>(
    ctx: Context<'gc>,
    chunk_name: &[u8],
    source: &[u8],
) -> Result<FunctionPrototype<'gc>, String> {
    let shown = display_chunk_name(chunk_name);
    let interner = Interner(ctx);
    let mut chunk = compiler::parse_chunk(source, interner)
        .map_err(|e| syntax_message(&shown, &PrototypeError::Parser(e)))?;
    let methods = methods::rewrite(&mut chunk, |s| ctx.intern(s));
    let mut compiled = compiler::compile_chunk(&chunk, interner)
        .map_err(|e| syntax_message(&shown, &PrototypeError::Compiler(e)))?;
    if methods && !methods::bind_invoke(&mut compiled) {
        return Err(format!(
            "{shown}: internal error: unexpected code for method calls"
        ));
    }
    widen_tail_call_frames(&mut compiled);
    Ok(FunctionPrototype::from_compiled(
        &ctx,
        ctx.intern(chunk_name),
        &compiled,
    ))
}

#[derive(Copy, Clone)]
struct Interner<'gc>(Context<'gc>);

impl<'gc> compiler::StringInterner for Interner<'gc> {
    type String = piccolo::String<'gc>;

    fn intern(&mut self, s: &[u8]) -> Self::String {
        self.0.intern(s)
    }
}

/// The frame size a function with a tail call gets (see [`widen_tail_call_frames`]).
pub const TAIL_CALL_FRAME: u16 = 256;

/// Works around a piccolo 0.3.3 panic: a tail call passing fewer arguments than the callee
/// has parameters fills the missing ones with nil *within the caller's stack*, and indexes
/// past it when that is shorter than the callee's parameter list.
///
/// - With a fixed argument count the stack ends at the caller's frame: a function that makes
///   such tail calls gets a frame of at least 256 slots (no function has more than 255
///   parameters). Tail calls stay proper; the cost is a larger frame.
/// - With a variable count (`return f(...)`) the stack ends at the last argument, so instead
///   the tail call becomes a call returning everything, then a return of it. Such calls use
///   stack like ordinary calls (deep recursion through them is bounded by the heap limit).
pub fn widen_tail_call_frames<S>(proto: &mut compiler::CompiledPrototype<S>) {
    use piccolo::opcode::Operation;
    split_variable_tail_calls(proto);
    let tail_calls = proto
        .opcodes
        .iter()
        .any(|op| matches!(op.decode(), Operation::TailCall { .. }));
    if tail_calls {
        proto.stack_size = proto.stack_size.max(TAIL_CALL_FRAME);
    }
    for nested in &mut proto.prototypes {
        widen_tail_call_frames(nested);
    }
}

fn split_variable_tail_calls<S>(proto: &mut compiler::CompiledPrototype<S>) {
    use piccolo::opcode::{OpCode, Operation as Op};
    use piccolo::types::VarCount;

    let ops: Vec<Op> = proto.opcodes.iter().map(|op| op.decode()).collect();
    // An instruction that may skip the next one must keep a single instruction after it.
    let skips_next = |op: &Op| {
        matches!(
            op,
            Op::LoadBool {
                skip_next: true,
                ..
            } | Op::Test { .. }
                | Op::TestSet { .. }
                | Op::Eq { .. }
                | Op::Less { .. }
                | Op::LessEq { .. }
        )
    };
    let split: Vec<bool> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| {
            matches!(op, Op::TailCall { args, .. } if args.is_variable())
                && !(i > 0 && skips_next(&ops[i - 1]))
        })
        .collect();
    if !split.contains(&true) {
        return;
    }
    let mut new_index = Vec::with_capacity(ops.len() + 1);
    let mut next = 0usize;
    for &s in &split {
        new_index.push(next);
        next += 1 + s as usize;
    }
    new_index.push(next);
    // Jumps are relative to the following instruction.
    let retarget = |i: usize, offset: i16| -> Option<i16> {
        let target = (i as isize + 1).checked_add(offset as isize)?;
        let target = *new_index.get(usize::try_from(target).ok()?)? as isize;
        i16::try_from(target - (new_index[i] as isize + 1)).ok()
    };
    let mut out = Vec::with_capacity(next);
    for (i, &op) in ops.iter().enumerate() {
        let op = match op {
            Op::Jump {
                offset,
                close_upvalues,
            } => Op::Jump {
                offset: match retarget(i, offset) {
                    Some(o) => o,
                    None => return,
                },
                close_upvalues,
            },
            Op::NumericForPrep { base, jump } => Op::NumericForPrep {
                base,
                jump: match retarget(i, jump) {
                    Some(o) => o,
                    None => return,
                },
            },
            Op::NumericForLoop { base, jump } => Op::NumericForLoop {
                base,
                jump: match retarget(i, jump) {
                    Some(o) => o,
                    None => return,
                },
            },
            Op::GenericForLoop { base, jump } => Op::GenericForLoop {
                base,
                jump: match retarget(i, jump) {
                    Some(o) => o,
                    None => return,
                },
            },
            Op::TailCall { func, args } if split[i] => {
                out.push(OpCode::encode(Op::Call {
                    func,
                    args,
                    returns: VarCount::variable(),
                }));
                Op::Return {
                    start: func,
                    count: VarCount::variable(),
                }
            }
            other => other,
        };
        out.push(OpCode::encode(op));
    }
    proto.opcodes = out;
    for (index, _) in &mut proto.opcode_line_numbers {
        *index = new_index[*index];
    }
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
