//! A concatenation whose short result has one use, as the key or the value of an access to an
//! external table, hands the host its bytes: no string object is made (interned, then swept)
//! for it. These are the stores and reads that fill and query a persistent table:
//! `t['k' .. i] = 'v' .. i`, `t[k] = x .. y`, `t['k' .. i] = v`, `n = #t['k' .. i]`.
//!
//! A result has one use when its register is a temporary: no local variable's, per the debug
//! info, and the compiler never reads a temporary again once an instruction has consumed it.
//! A stripped function does not say which registers are locals, so it never qualifies. The
//! caller runs none of this while a hook is set, so hooks see every instruction.

use core::num::NonZeroUsize;

use crate::bytecode::Op;
use crate::checked::{at, at_mut, bug};
use crate::external::{Running, Stored};
use crate::function::Proto;
use crate::proto::LocalDesc;
use crate::state::Ctx;
use crate::string::{BUILD_END, BUILD_LEN};
use crate::thread::{Thread, ThreadState};
use crate::value::Value;

use super::meta::{build_short_pair, Built};
use super::native::Error;

/// At most this many loads may lie between a key's concatenation and its store.
const MAX_LOADS: usize = 4;

/// Whether `next`, the instruction after `Concat a 2`, may start an access that
/// [`concat`] runs: a test inline in the dispatch loop, so that a plain concatenation makes no
/// call.
#[inline]
pub(super) fn may_fuse(next: &Op, a: u8) -> bool {
    match *next {
        Op::SetTable { b, c, kc, .. } => b == a || (!kc && c == a),
        Op::SetField { c, kc, .. } | Op::SetInt { c, kc, .. } => !kc && c == a,
        Op::GetTable { c, .. } => c == a,
        ref op => load_target(op, a).is_some(),
    }
}

/// Runs `Concat a 2` (the instruction before `pc`) together with the access that uses its
/// result, when that access is to an external table and the result is short. Returns the pc
/// to go on from, or `None` when nothing was done; an access that failed leaves its error in
/// `failed` (a small return value: moving a whole `Result` out cost store-forwarding stalls).
///
/// The access is a read `t[x .. y]` right after it, or a store: `t[k] = x .. y` right after
/// it, or `t[x .. y] = v` where only loads (which neither fail nor run code) come between it
/// and the store, and `v` is a register, a constant, or a second concatenation right before
/// the store.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(super) fn concat<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    proto: &Proto<'gc>,
    konst: &[Value<'gc>],
    base: usize,
    pc: usize,
    a: u8,
    failed: &mut Option<Error<'gc>>,
) -> Option<NonZeroUsize> {
    let code = &proto.plain.code;
    let mut buf = [0u8; BUILD_LEN];
    if let Op::GetTable { a: into, b: t, c } = *code.get(pc)? {
        if c != a {
            return None;
        }
        let id = external_id(ts.stack.get(base + t as usize).copied()?)?;
        if !temporaries(proto, pc, a, a) {
            return None;
        }
        let start = short_pair(ctx, &ts.stack, base, a, &mut buf)?;
        let done = crate::external::get_str(ctx, id, &buf[start..BUILD_END]).map(|v| {
            *at_mut(&mut ts.stack, base + a as usize) = Value::Nil;
            *at_mut(&mut ts.stack, base + into as usize) = v;
        });
        return after(pc + 1, done, failed);
    }
    // The shape, from the code alone. Loads write registers above `a` (the table's lies
    // below it), and only the store reads `a`.
    let mut loads = pc;
    while let Some(r) = load_target(code.get(loads)?, a) {
        if r <= a || loads - pc == MAX_LOADS {
            return None;
        }
        loads += 1;
    }
    let (store, joined) = match *code.get(loads)? {
        Op::Concat { a: v, n: 2 } if v > a => (loads + 1, Some(v)),
        _ => (loads, None),
    };
    let (t, key_reg, key_const, c, kc) = match *code.get(store)? {
        Op::SetTable { a: t, b, c, kc } => (t, Some(b), Value::Nil, c, kc),
        Op::SetField { a: t, k, c, kc } => (t, None, *konst.get(k as usize)?, c, kc),
        Op::SetInt { a: t, b, c, kc } => (t, None, Value::Integer(b as i64), c, kc),
        _ => return None,
    };
    let key_joined = key_reg == Some(a);
    let shape_fits = if key_joined {
        t < a
            && match joined {
                Some(v) => !kc && c == v,
                None => kc || c != a,
            }
    } else {
        loads == pc && !kc && c == a
    };
    if !shape_fits {
        return None;
    }
    let id = external_id(ts.stack.get(base + t as usize).copied()?)?;
    let last = joined.unwrap_or(a);
    if !temporaries(proto, store, a, last) {
        return None;
    }
    let start = short_pair(ctx, &ts.stack, base, a, &mut buf)?;
    // The loads run now: they may overwrite the concatenation's second operand.
    for op in &code[pc..loads] {
        let stack = &mut ts.stack;
        match *op {
            Op::LoadK { a, k } => *at_mut(stack, base + a as usize) = *at(konst, k as usize),
            Op::LoadI { a, i } => *at_mut(stack, base + a as usize) = Value::Integer(i as i64),
            Op::Move { a, b } => *at_mut(stack, base + a as usize) = *at(stack, base + b as usize),
            _ => bug(),
        }
    }
    let joined_bytes = Stored::Str(&buf[start..BUILD_END]);
    let mut value_buf = [0u8; BUILD_LEN];
    let reg = |r: u8| ts.stack.get(base + r as usize).copied();
    let (key, value) = if !key_joined {
        let key = match key_reg {
            Some(b) => reg(b)?,
            None => key_const,
        };
        (Stored::Value(key), joined_bytes)
    } else if let Some(v) = joined {
        match short_pair(ctx, &ts.stack, base, v, &mut value_buf) {
            Some(from) => (joined_bytes, Stored::Str(&value_buf[from..BUILD_END])),
            // Not a short string: the key is made after all, and the value's concatenation
            // runs as usual.
            None => {
                let s = ctx.intern_built(&buf, start);
                *at_mut(&mut ts.stack, base + a as usize) = Value::String(s);
                return NonZeroUsize::new(loads);
            }
        }
    } else if kc {
        (joined_bytes, Stored::Value(*konst.get(c as usize)?))
    } else {
        (joined_bytes, Stored::Value(reg(c)?))
    };
    *at_mut(&mut ts.stack, base + a as usize) = Value::Nil;
    *at_mut(&mut ts.stack, base + last as usize) = Value::Nil;
    let done = crate::external::store(ctx, &Running::new(thread, ts), id, key, value);
    after(store + 1, done, failed)
}

/// The pc after an access that ended with `done`.
fn after<'gc>(
    next: usize,
    done: Result<(), Error<'gc>>,
    failed: &mut Option<Error<'gc>>,
) -> Option<NonZeroUsize> {
    if let Err(e) = done {
        *failed = Some(e);
    }
    NonZeroUsize::new(next)
}

/// The register a load writes: loads neither fail nor run code. A move from `key` is none.
fn load_target(op: &Op, key: u8) -> Option<u8> {
    match *op {
        Op::LoadK { a, .. } | Op::LoadI { a, .. } => Some(a),
        Op::Move { a, b } if b != key => Some(a),
        _ => None,
    }
}

/// Whether registers `a..=last` hold no local variable at `pc`, so that the instruction there
/// consumes them (see the module's comment).
fn temporaries(proto: &Proto<'_>, pc: usize, a: u8, last: u8) -> bool {
    let p = &proto.plain;
    let local = |l: &LocalDesc| {
        (a..=last).contains(&l.reg) && l.start_pc as usize <= pc && pc < l.end_pc as usize
    };
    !p.lines.is_empty() && !p.locals.iter().any(local)
}

/// Writes `a .. a+1` into `buf` when both are strings or integers and the result is short;
/// returns where it starts (it ends at [`BUILD_END`]).
fn short_pair<'gc>(
    ctx: Ctx<'gc>,
    stack: &[Value<'gc>],
    base: usize,
    a: u8,
    buf: &mut [u8; BUILD_LEN],
) -> Option<usize> {
    let operands = stack.get(base + a as usize..base + a as usize + 2)?;
    match build_short_pair(ctx, operands[0], operands[1], buf) {
        Built::Short(start) => Some(start),
        Built::Long | Built::Neither => None,
    }
}

fn external_id(t: Value<'_>) -> Option<u32> {
    match t {
        Value::Table(t) => t.external_id(),
        _ => None,
    }
}
