//! Names for messages and tracebacks, found the way lua5.4 finds them: by reading the
//! bytecode backwards from the failing instruction to what last set a register.

use alloc::format;
use alloc::string::String;

use crate::bytecode::Op;
use crate::function::Proto;
use crate::proto::{chunk_id, Constant};
use crate::state::Ctx;
use crate::thread::{Frame, LuaFrame, Thread, ThreadState};
use crate::value::{Function, Value};

/// Where an operand of a failing instruction came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Src {
    Reg(u8),
    Upval(u8),
    None,
}

/// The line a Lua frame is at (the instruction before its saved pc).
pub fn current_line(f: &LuaFrame<'_>) -> Option<u32> {
    let p = &f.closure.0.proto.plain;
    p.lines.get((f.pc as usize).saturating_sub(1)).copied()
}

/// ` (local 'x')`, ` (global 'x')`... for the operand of the failing instruction of the
/// frame on top, or nothing.
pub(crate) fn describe_register<'gc>(ctx: Ctx<'gc>, ts: &ThreadState<'gc>, src: Src) -> String {
    let _ = ctx;
    let Some(Frame::Lua(f)) = ts.frames.last() else {
        return String::new();
    };
    let proto = &f.closure.0.proto;
    let pc = (f.pc as usize).saturating_sub(1);
    let found = match src {
        Src::Reg(r) => object_name(proto, pc, r),
        Src::Upval(u) => Some(("upvalue", upvalue_name(proto, u as usize))),
        Src::None => None,
    };
    match found {
        Some((what, name)) => format!(" ({what} '{name}')"),
        None => String::new(),
    }
}

fn upvalue_name(proto: &Proto<'_>, u: usize) -> String {
    match proto.plain.upvalues.get(u) {
        Some(d) if !d.name.is_empty() => String::from_utf8_lossy(&d.name).into_owned(),
        _ => String::from("?"),
    }
}

fn local_name(proto: &Proto<'_>, reg: u8, pc: usize) -> Option<String> {
    proto
        .plain
        .locals
        .iter()
        .rfind(|l| l.reg == reg && (l.start_pc as usize) <= pc && pc < l.end_pc as usize)
        .map(|l| String::from_utf8_lossy(&l.name).into_owned())
}

fn constant_string(proto: &Proto<'_>, k: usize) -> Option<String> {
    match proto.plain.constants.get(k) {
        Some(Constant::String(s)) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
    }
}

/// Jump target of an instruction at `pc`, if it jumps.
fn jump_target(op: Op, pc: usize) -> Option<usize> {
    let off = match op {
        Op::Jmp { off }
        | Op::Eq { off, .. }
        | Op::Lt { off, .. }
        | Op::Le { off, .. }
        | Op::EqK { off, .. }
        | Op::EqI { off, .. }
        | Op::LtI { off, .. }
        | Op::LeI { off, .. }
        | Op::GtI { off, .. }
        | Op::GeI { off, .. }
        | Op::Test { off, .. }
        | Op::TestSet { off, .. } => off,
        _ => return None,
    };
    Some((pc as i64 + 1 + off as i64) as usize)
}

/// Whether `op` writes register `reg`.
fn sets_register(op: Op, reg: u8) -> bool {
    match op {
        Op::LoadNil { a, n } => a <= reg && reg as u16 <= a as u16 + n as u16,
        Op::TForCall { a, .. } => reg >= a.saturating_add(4),
        Op::Call { a, .. } | Op::TailCall { a, .. } => reg >= a,
        Op::SelfK { a, .. } => reg == a || reg as u16 == a as u16 + 1,
        Op::Move { a, .. }
        | Op::LoadI { a, .. }
        | Op::LoadF { a, .. }
        | Op::LoadK { a, .. }
        | Op::LoadFalse { a }
        | Op::LoadFalseSkip { a }
        | Op::LoadTrue { a }
        | Op::GetUpval { a, .. }
        | Op::GetTabUp { a, .. }
        | Op::GetTable { a, .. }
        | Op::GetInt { a, .. }
        | Op::GetField { a, .. }
        | Op::NewTable { a, .. }
        | Op::AddI { a, .. }
        | Op::AddK { a, .. }
        | Op::SubK { a, .. }
        | Op::MulK { a, .. }
        | Op::ModK { a, .. }
        | Op::PowK { a, .. }
        | Op::DivK { a, .. }
        | Op::IDivK { a, .. }
        | Op::BAndK { a, .. }
        | Op::BOrK { a, .. }
        | Op::BXorK { a, .. }
        | Op::ShrI { a, .. }
        | Op::ShlI { a, .. }
        | Op::Add { a, .. }
        | Op::Sub { a, .. }
        | Op::Mul { a, .. }
        | Op::Mod { a, .. }
        | Op::Pow { a, .. }
        | Op::Div { a, .. }
        | Op::IDiv { a, .. }
        | Op::BAnd { a, .. }
        | Op::BOr { a, .. }
        | Op::BXor { a, .. }
        | Op::Shl { a, .. }
        | Op::Shr { a, .. }
        | Op::Unm { a, .. }
        | Op::BNot { a, .. }
        | Op::Not { a, .. }
        | Op::Len { a, .. }
        | Op::Concat { a, .. }
        | Op::TestSet { a, .. }
        | Op::Closure { a, .. }
        | Op::VarArg { a, .. } => reg == a,
        Op::ForLoop { a, .. } | Op::ForPrep { a, .. } => reg >= a && reg as u16 <= a as u16 + 3,
        _ => false,
    }
}

/// The last instruction before `last_pc` that certainly set `reg` (not one inside a branch
/// that a later jump may have skipped).
fn find_set_register(proto: &Proto<'_>, last_pc: usize, reg: u8) -> Option<usize> {
    let code = &proto.plain.code;
    let mut set = None;
    let mut jump_target_max = 0usize;
    for (pc, &op) in code.iter().enumerate().take(last_pc) {
        if let Some(dest) = jump_target(op, pc) {
            if dest <= last_pc && dest > jump_target_max {
                jump_target_max = dest;
            }
        }
        if sets_register(op, reg) {
            set = if pc < jump_target_max { None } else { Some(pc) };
        }
    }
    set
}

/// `("global", "print")`, `("local", "t")`... for what register `reg` holds at `pc`.
pub(crate) fn object_name(proto: &Proto<'_>, pc: usize, reg: u8) -> Option<(&'static str, String)> {
    if let Some(name) = local_name(proto, reg, pc) {
        return Some(("local", name));
    }
    let set_pc = find_set_register(proto, pc, reg)?;
    match proto.plain.code[set_pc] {
        Op::Move { a: _, b } if b < reg => object_name(proto, set_pc, b),
        Op::GetTabUp { b, k, .. } => {
            let name = constant_string(proto, k as usize)?;
            let what = if upvalue_name(proto, b as usize) == "_ENV" {
                "global"
            } else {
                "field"
            };
            Some((what, name))
        }
        Op::GetField { b, k, .. } => {
            let name = constant_string(proto, k as usize)?;
            Some((field_or_global(proto, set_pc, b), name))
        }
        Op::GetTable { b, c, .. } => {
            let name = key_name(proto, set_pc, c);
            Some((field_or_global(proto, set_pc, b), name))
        }
        Op::GetInt { .. } => Some(("field", String::from("integer index"))),
        Op::GetUpval { b, .. } => Some(("upvalue", upvalue_name(proto, b as usize))),
        Op::LoadK { k, .. } => constant_string(proto, k as usize).map(|s| ("constant", s)),
        Op::SelfK { k, .. } => constant_string(proto, k as usize).map(|s| ("method", s)),
        _ => None,
    }
}

/// "global" when the indexed table is `_ENV` (a local or an upvalue of that name).
/// Deliberately not a full `object_name`: following a chain like `t.a.a.a` there would be
/// quadratic.
fn field_or_global(proto: &Proto<'_>, pc: usize, table_reg: u8) -> &'static str {
    let is_env = match local_name(proto, table_reg, pc) {
        Some(name) => name == "_ENV",
        None => matches!(
            find_set_register(proto, pc, table_reg).map(|p| proto.plain.code[p]),
            Some(Op::GetUpval { b, .. }) if upvalue_name(proto, b as usize) == "_ENV"
        ),
    };
    if is_env {
        "global"
    } else {
        "field"
    }
}

/// The name of a key register when it holds a constant string (not a local), else `?`.
fn key_name(proto: &Proto<'_>, pc: usize, reg: u8) -> String {
    match object_name(proto, pc, reg) {
        Some(("constant", name)) => name,
        _ => String::from("?"),
    }
}

/// How the instruction the Lua frame `frames[index]` stopped at calls a function:
/// `("global", "print")`, `("method", "m")`, `("metamethod", "add")`...
pub fn call_site_name<'gc>(
    ctx: Ctx<'gc>,
    ts: &ThreadState<'gc>,
    index: usize,
) -> Option<(&'static str, String)> {
    let _ = ctx;
    let Some(Frame::Lua(f)) = ts.frames.get(index) else {
        return None;
    };
    let proto = &f.closure.0.proto;
    let pc = (f.pc as usize).checked_sub(1)?;
    let meta = |name: &str| Some(("metamethod", String::from(name)));
    match *proto.plain.code.get(pc)? {
        Op::Call { a, .. } | Op::TailCall { a, .. } => object_name(proto, pc, a),
        Op::TForCall { .. } => Some(("for iterator", String::from("for iterator"))),
        Op::SelfK { .. }
        | Op::GetTabUp { .. }
        | Op::GetTable { .. }
        | Op::GetInt { .. }
        | Op::GetField { .. } => meta("index"),
        Op::SetTabUp { .. } | Op::SetTable { .. } | Op::SetInt { .. } | Op::SetField { .. } => {
            meta("newindex")
        }
        Op::AddI { .. } | Op::AddK { .. } | Op::Add { .. } => meta("add"),
        Op::SubK { .. } | Op::Sub { .. } => meta("sub"),
        Op::MulK { .. } | Op::Mul { .. } => meta("mul"),
        Op::ModK { .. } | Op::Mod { .. } => meta("mod"),
        Op::PowK { .. } | Op::Pow { .. } => meta("pow"),
        Op::DivK { .. } | Op::Div { .. } => meta("div"),
        Op::IDivK { .. } | Op::IDiv { .. } => meta("idiv"),
        Op::BAndK { .. } | Op::BAnd { .. } => meta("band"),
        Op::BOrK { .. } | Op::BOr { .. } => meta("bor"),
        Op::BXorK { .. } | Op::BXor { .. } => meta("bxor"),
        Op::ShlI { .. } | Op::Shl { .. } => meta("shl"),
        Op::ShrI { .. } | Op::Shr { .. } => meta("shr"),
        Op::Unm { .. } => meta("unm"),
        Op::BNot { .. } => meta("bnot"),
        Op::Len { .. } => meta("len"),
        Op::Concat { .. } => meta("concat"),
        Op::Eq { .. } => meta("eq"),
        Op::Lt { .. } | Op::LtI { .. } | Op::GtI { .. } => meta("lt"),
        Op::Le { .. } | Op::LeI { .. } | Op::GeI { .. } => meta("le"),
        Op::Close { .. } | Op::Return { .. } | Op::Return0 | Op::Return1 { .. } => meta("close"),
        _ => None,
    }
}

/// How the function of frame `i` was called: `("hook", "?")` for a hook, otherwise as the
/// calling instruction of the frame below names it.
pub fn frame_name<'gc>(
    ctx: Ctx<'gc>,
    ts: &ThreadState<'gc>,
    i: usize,
) -> Option<(&'static str, String)> {
    let ret = match ts.frames.get(i)? {
        Frame::Lua(f) => f.ret,
        Frame::Native(n) => n.ret,
    };
    if matches!(ret, crate::thread::RetMode::Hook) {
        return Some(("hook", String::from("?")));
    }
    let caller = i.checked_sub(1)?;
    if let Frame::Native(n) = &ts.frames[caller] {
        if super::call::is_finalizer_guard(n.closure) {
            return Some(("metamethod", String::from("__gc")));
        }
    }
    call_site_name(ctx, ts, caller)
}

/// `"print"`, `"string.rep"`: where a function is found among the loaded modules.
pub(crate) fn global_function_name<'gc>(ctx: Ctx<'gc>, f: Value<'gc>) -> Option<String> {
    let Value::Table(loaded) = ctx.loaded_table() else {
        return None;
    };
    let find_in = |t: crate::table::Table<'gc>| -> Option<String> {
        let mut key = Value::Nil;
        while let Ok(Some((k, v))) = t.next(key) {
            if v.raw_eq(f) {
                if let Value::String(s) = k {
                    return Some(s.to_str_lossy().into_owned());
                }
            }
            key = k;
        }
        None
    };
    if let Value::Table(g) = loaded.get(Value::String(ctx.intern(b"_G"))) {
        if let Some(name) = find_in(g) {
            return Some(name);
        }
    }
    let mut key = Value::Nil;
    while let Ok(Some((k, v))) = loaded.next(key) {
        if let (Value::String(modname), Value::Table(m)) = (k, v) {
            if modname.as_bytes() != b"_G" {
                if let Some(name) = find_in(m) {
                    return Some(format!("{}.{}", modname.to_str_lossy(), name));
                }
            }
        }
        key = k;
    }
    None
}

/// How a traceback names the function of a frame.
pub(crate) fn function_name_for_traceback<'gc>(
    ctx: Ctx<'gc>,
    site: Option<(&'static str, String)>,
    f: Value<'gc>,
) -> String {
    if let Some(name) = global_function_name(ctx, f) {
        return format!("function '{name}'");
    }
    if let Some((what, name)) = site {
        return format!("{what} '{name}'");
    }
    match f {
        Value::Function(Function::Lua(c)) => {
            let p = &c.0.proto.plain;
            if p.line_defined == 0 {
                String::from("main chunk")
            } else {
                format!("function <{}:{}>", chunk_id(&p.source), p.line_defined)
            }
        }
        _ => String::from("?"),
    }
}

/// `stack traceback:` and one line per frame, innermost first, as `luaL_traceback` writes
/// it. `native` is a native function running in place above the frames; `skip` frames on
/// top are left out.
pub fn traceback<'gc>(
    ctx: Ctx<'gc>,
    ts: &ThreadState<'gc>,
    thread: Thread<'gc>,
    native: Option<Value<'gc>>,
    skip: usize,
) -> String {
    const FIRST: usize = 10;
    const LAST: usize = 11;
    enum Level<'gc> {
        InPlace(Value<'gc>),
        Frame(usize),
        Host,
    }
    let n = ts.frames.len();
    let mut levels: alloc::vec::Vec<Level<'gc>> = alloc::vec::Vec::new();
    levels.extend(native.map(Level::InPlace));
    levels.extend((0..n.saturating_sub(skip)).rev().map(Level::Frame));
    if thread == ctx.main_thread() {
        levels.push(Level::Host);
    }
    let line = |level: &Level<'gc>| -> String {
        match *level {
            Level::InPlace(f) => {
                format!(
                    "[C]: in {}",
                    function_name_for_traceback(
                        ctx,
                        n.checked_sub(1).and_then(|c| call_site_name(ctx, ts, c)),
                        f
                    )
                )
            }
            Level::Frame(i) => match ts.frames[i] {
                Frame::Lua(f) => {
                    let p = &f.closure.0.proto.plain;
                    // Without line information (stripped code) only the source shows.
                    let line = current_line(&f).map_or(String::new(), |l| format!("{l}:"));
                    let name = function_name_for_traceback(
                        ctx,
                        frame_name(ctx, ts, i),
                        Value::from(f.closure),
                    );
                    let mut s = format!("{}:{} in {}", chunk_id(&p.source), line, name);
                    if f.tail {
                        s.push_str("\n\t(...tail calls...)");
                    }
                    s
                }
                Frame::Native(nf) => {
                    let name = function_name_for_traceback(
                        ctx,
                        frame_name(ctx, ts, i),
                        Value::from(nf.closure),
                    );
                    format!("[C]: in {name}")
                }
            },
            Level::Host => String::from("[C]: in ?"),
        }
    };
    let mut out = String::from("stack traceback:");
    let total = levels.len();
    for (i, level) in levels.iter().enumerate() {
        if total > FIRST + LAST && i == FIRST {
            out.push_str(&format!(
                "\n\t...\t(skipping {} levels)",
                total - FIRST - LAST
            ));
        }
        if total > FIRST + LAST && i >= FIRST && i < total - LAST {
            continue;
        }
        out.push_str("\n\t");
        out.push_str(&line(level));
    }
    out
}
