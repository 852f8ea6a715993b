//! Metamethods: lookup (with per-metatable absence caching) and the slow paths of indexing,
//! assignment, length, equality, ordering and concatenation.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::checked::{at, at_mut};
use crate::number;
use crate::state::Ctx;
use crate::string::{LuaStr, BUILD_END, BUILD_LEN, MAX_SHORT_LEN};
use crate::table::{KeyError, Table};
use crate::thread::{Frame, RetMode, Thread, ThreadState};
use crate::value::Value;

use super::call::{call_at_top, Flow};
use super::describe::{describe_register, Src};
use super::native::{type_name_for_message, Error};

/// Metamethod events, in the order of [`MetaEvent::NAMES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MetaEvent {
    Index,
    NewIndex,
    Gc,
    Mode,
    Len,
    Eq,
    Add,
    Sub,
    Mul,
    Mod,
    Pow,
    Div,
    IDiv,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    Unm,
    BNot,
    Lt,
    Le,
    Concat,
    Call,
    Close,
    ToString,
    Name,
    Pairs,
    Metatable,
}

impl MetaEvent {
    pub const COUNT: usize = 29;
    pub const NAMES: [&'static str; Self::COUNT] = [
        "__index",
        "__newindex",
        "__gc",
        "__mode",
        "__len",
        "__eq",
        "__add",
        "__sub",
        "__mul",
        "__mod",
        "__pow",
        "__div",
        "__idiv",
        "__band",
        "__bor",
        "__bxor",
        "__shl",
        "__shr",
        "__unm",
        "__bnot",
        "__lt",
        "__le",
        "__concat",
        "__call",
        "__close",
        "__tostring",
        "__name",
        "__pairs",
        "__metatable",
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Most `__index`/`__newindex` links followed before giving up (`MAXTAGLOOP`).
pub const MAX_TAG_LOOP: usize = 2000;

/// The metatable of any value.
#[inline]
pub fn metatable_of<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Option<Table<'gc>> {
    match v {
        Value::Table(t) => t.metatable(),
        Value::UserData(u) => u.metatable(),
        other => ctx.type_metatable(other.type_of()),
    }
}

/// The metamethod for `event` of `v`, or nil.
#[inline]
pub fn metamethod<'gc>(ctx: Ctx<'gc>, v: Value<'gc>, event: MetaEvent) -> Value<'gc> {
    match metatable_of(ctx, v) {
        Some(mt) => event_of(ctx, mt, event),
        None => Value::Nil,
    }
}

/// `mt[event]`, remembering its absence in the metatable until the metatable changes.
#[inline]
pub fn event_of<'gc>(ctx: Ctx<'gc>, mt: Table<'gc>, event: MetaEvent) -> Value<'gc> {
    let state = mt.state();
    if state.known_absent(event as u32) {
        return Value::Nil;
    }
    let v = state.get_str(ctx.meta_name(event));
    if v.is_nil() {
        state.mark_absent(event as u32);
    }
    v
}

/// `t[s]` when only tables are involved: `t` itself, then its `__index` tables (a class
/// chain). `None` when a function metamethod or a non-table must be dealt with.
#[inline]
pub(crate) fn index_str_fast<'gc>(
    ctx: Ctx<'gc>,
    mut t: Table<'gc>,
    s: LuaStr<'gc>,
) -> Option<Value<'gc>> {
    for _ in 0..4 {
        let mt = {
            let st = t.state();
            let v = st.get_str(s);
            if !v.is_nil() {
                return Some(v);
            }
            match st.metatable() {
                // An external table's metatable only marks it: its entries are in the host.
                Some(_) if st.external_id().is_some() => return None,
                mt => mt,
            }
        };
        let Some(mt) = mt else {
            return Some(Value::Nil);
        };
        // `event_of` written out: the class lookup of every method call comes here.
        let st = mt.state();
        let index = MetaEvent::Index as u32;
        if st.known_absent(index) {
            return Some(Value::Nil);
        }
        match st.get_str(ctx.meta_name(MetaEvent::Index)) {
            Value::Nil => {
                st.mark_absent(index);
                return Some(Value::Nil);
            }
            Value::Table(next) => t = next,
            _ => return None,
        }
    }
    None
}

/// `t[key]` with metamethods, into `stack[dest]`.
pub(super) fn index<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    mut obj: Value<'gc>,
    key: Value<'gc>,
    dest: usize,
    src: Src,
) -> Result<Flow<'gc>, Error<'gc>> {
    for depth in 0..MAX_TAG_LOOP {
        let tm = match obj {
            Value::Table(t) if t.external_id().is_some() => {
                *at_mut(&mut ts.stack, dest) = crate::external::raw_get(ctx, t, key)?;
                return Ok(Flow::Continue);
            }
            Value::Table(t) => {
                let v = t.get(key);
                if !v.is_nil() {
                    *at_mut(&mut ts.stack, dest) = v;
                    return Ok(Flow::Continue);
                }
                let tm = match t.metatable() {
                    None => Value::Nil,
                    Some(mt) => event_of(ctx, mt, MetaEvent::Index),
                };
                if tm.is_nil() {
                    *at_mut(&mut ts.stack, dest) = Value::Nil;
                    return Ok(Flow::Continue);
                }
                tm
            }
            _ => {
                let tm = metamethod(ctx, obj, MetaEvent::Index);
                if tm.is_nil() {
                    let src = if depth == 0 { src } else { Src::None };
                    return Err(type_error(ctx, ts, obj, "index", src, key));
                }
                tm
            }
        };
        if let Value::Function(_) = tm {
            return call_at_top(
                ctx,
                thread,
                ts,
                tm,
                &[obj, key],
                RetMode::Single { dest: dest as u32 },
            );
        }
        obj = tm;
    }
    Err(Error::runtime("'__index' chain too long; possible loop"))
}

/// `t[key] = value` with metamethods.
#[allow(clippy::too_many_arguments)]
pub(super) fn new_index<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    mut obj: Value<'gc>,
    key: Value<'gc>,
    value: Value<'gc>,
    src: Src,
) -> Result<Flow<'gc>, Error<'gc>> {
    for depth in 0..MAX_TAG_LOOP {
        let tm = match obj {
            Value::Table(t) if t.external_id().is_some() => {
                let running = crate::external::Running::new(thread, ts);
                crate::external::raw_set(ctx, &running, t, key, value)?;
                return Ok(Flow::Continue);
            }
            Value::Table(t) => {
                let mt = t.metatable();
                let tm = match mt {
                    Some(mt) => event_of(ctx, mt, MetaEvent::NewIndex),
                    None => Value::Nil,
                };
                if tm.is_nil() || !t.get(key).is_nil() {
                    raw_set(ctx, t, key, value)?;
                    return Ok(Flow::Continue);
                }
                tm
            }
            _ => {
                let tm = metamethod(ctx, obj, MetaEvent::NewIndex);
                if tm.is_nil() {
                    let src = if depth == 0 { src } else { Src::None };
                    return Err(type_error(ctx, ts, obj, "index", src, key));
                }
                tm
            }
        };
        if let Value::Function(_) = tm {
            return call_at_top(ctx, thread, ts, tm, &[obj, key, value], RetMode::Discard);
        }
        obj = tm;
    }
    Err(Error::runtime("'__newindex' chain too long; possible loop"))
}

/// A raw assignment with Lua's errors for bad keys and for growth past the memory limit.
pub fn raw_set<'gc>(
    ctx: Ctx<'gc>,
    t: Table<'gc>,
    key: Value<'gc>,
    value: Value<'gc>,
) -> Result<(), Error<'gc>> {
    let room = ctx.alloc_room();
    t.state_mut(ctx.mc)
        .try_set(key, value, room)
        .map_err(|e| key_error(ctx, e))
}

/// Lua's error for a key that cannot be stored.
pub fn key_error<'gc>(ctx: Ctx<'gc>, e: KeyError) -> Error<'gc> {
    match e {
        KeyError::Memory => ctx.memory_error(),
        e => Error::runtime(e.message()),
    }
}

/// `#v` into `stack[dest]`.
pub(super) fn len<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    v: Value<'gc>,
    dest: usize,
    src: Src,
) -> Result<Flow<'gc>, Error<'gc>> {
    if let Value::Table(t) = v {
        if t.external_id().is_some() {
            *at_mut(&mut ts.stack, dest) = Value::Integer(crate::external::length(ctx, t)?);
            return Ok(Flow::Continue);
        }
    }
    let tm = metamethod(ctx, v, MetaEvent::Len);
    if !tm.is_nil() {
        return call_at_top(
            ctx,
            thread,
            ts,
            tm,
            &[v, v],
            RetMode::Single { dest: dest as u32 },
        );
    }
    match v {
        Value::Table(t) => *at_mut(&mut ts.stack, dest) = Value::Integer(t.length()),
        Value::String(s) => *at_mut(&mut ts.stack, dest) = Value::Integer(s.len() as i64),
        _ => return Err(type_error(ctx, ts, v, "get length of", src, Value::Nil)),
    }
    Ok(Flow::Continue)
}

/// `a == b` for values that are not primitively equal: `__eq` for two tables or two
/// userdata. `Ok(Some(_))` is the answer; `Ok(None)` means a metamethod call was set up.
pub(super) fn equal<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    a: Value<'gc>,
    b: Value<'gc>,
    k: bool,
    off: i32,
) -> Result<Option<bool>, Error<'gc>> {
    let tm = match (a, b) {
        (Value::Table(_), Value::Table(_)) | (Value::UserData(_), Value::UserData(_)) => {
            if a.raw_eq(b) {
                return Ok(Some(true));
            }
            let tm = metamethod(ctx, a, MetaEvent::Eq);
            if tm.is_nil() {
                metamethod(ctx, b, MetaEvent::Eq)
            } else {
                tm
            }
        }
        _ => return Ok(Some(a.raw_eq(b))),
    };
    if tm.is_nil() {
        return Ok(Some(false));
    }
    call_at_top(ctx, thread, ts, tm, &[a, b], RetMode::Cond { k, off })?;
    Ok(None)
}

/// `a < b` (`le`: `a <= b`) for operands that are not two numbers.
#[allow(clippy::too_many_arguments)]
pub(super) fn order<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    a: Value<'gc>,
    b: Value<'gc>,
    le: bool,
    k: bool,
    off: i32,
) -> Result<Option<bool>, Error<'gc>> {
    if let Some(r) = primitive_order(a, b, le) {
        return Ok(Some(r));
    }
    let event = if le { MetaEvent::Le } else { MetaEvent::Lt };
    let mut tm = metamethod(ctx, a, event);
    if tm.is_nil() {
        tm = metamethod(ctx, b, event);
    }
    if tm.is_nil() {
        return Err(compare_error(ctx, a, b));
    }
    call_at_top(ctx, thread, ts, tm, &[a, b], RetMode::Cond { k, off })?;
    Ok(None)
}

/// Order between numbers, or between strings; `None` when a metamethod is needed.
#[inline]
pub fn primitive_order(a: Value<'_>, b: Value<'_>, le: bool) -> Option<bool> {
    Some(match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => {
            if le {
                x <= y
            } else {
                x < y
            }
        }
        (Value::Float(x), Value::Float(y)) => {
            if le {
                x <= y
            } else {
                x < y
            }
        }
        (Value::Integer(x), Value::Float(y)) => {
            if le {
                number::int_le_float(x, y)
            } else {
                number::int_lt_float(x, y)
            }
        }
        (Value::Float(x), Value::Integer(y)) => {
            if le {
                number::float_le_int(x, y)
            } else {
                number::float_lt_int(x, y)
            }
        }
        (Value::String(x), Value::String(y)) => {
            let (x, y) = (x.as_bytes(), y.as_bytes());
            if le {
                x <= y
            } else {
                x < y
            }
        }
        _ => return None,
    })
}

pub fn compare_error<'gc>(ctx: Ctx<'gc>, a: Value<'gc>, b: Value<'gc>) -> Error<'gc> {
    let (ta, tb) = (type_name_for_message(ctx, a), type_name_for_message(ctx, b));
    if ta == tb {
        Error::runtime(format!("attempt to compare two {ta} values"))
    } else {
        Error::runtime(format!("attempt to compare {ta} with {tb}"))
    }
}

/// `attempt to <op> a <type> value (<variable>)`.
pub(super) fn type_error<'gc>(
    ctx: Ctx<'gc>,
    ts: &ThreadState<'gc>,
    v: Value<'gc>,
    op: &str,
    src: Src,
    key: Value<'gc>,
) -> Error<'gc> {
    let _ = key;
    let desc = describe_register(ctx, ts, src);
    Error::runtime(format!(
        "attempt to {op} a {} value{desc}",
        type_name_for_message(ctx, v)
    ))
}

/// Concatenates `stack[first .. first + n]` into `stack[first]`, right to left, calling
/// `__concat` where an operand is neither a string nor a number.
pub(super) fn concat<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    first: usize,
    mut n: usize,
) -> Result<Flow<'gc>, Error<'gc>> {
    while n > 1 {
        let top = first + n;
        let (a, b) = (*at(&ts.stack, top - 2), *at(&ts.stack, top - 1));
        if is_concatable(a) && is_concatable(b) {
            if n == 2 || !is_concatable(*at(&ts.stack, top - 3)) {
                if let Some(s) = concat_pair(ctx, a, b)? {
                    *at_mut(&mut ts.stack, top - 2) = Value::String(s);
                    n -= 1;
                    continue;
                }
            }
            // Join the longest run of strings and numbers at the end in one go.
            let mut run = 2;
            while run < n && is_concatable(*at(&ts.stack, top - run - 1)) {
                run += 1;
            }
            // Numbers are formatted into `numbers`; strings are copied straight from
            // their buffers into the result.
            let values = at(&ts.stack, top - run..top);
            let mut numbers: Vec<u8> = Vec::new();
            let mut spans: Vec<(bool, usize, usize)> = Vec::with_capacity(run);
            for &v in values {
                match v {
                    Value::String(s) => spans.push((true, 0, s.len())),
                    _ => {
                        let start = numbers.len();
                        append_concatable(&mut numbers, v);
                        spans.push((false, start, numbers.len()));
                    }
                }
            }
            let parts: Vec<&[u8]> = values
                .iter()
                .zip(&spans)
                .map(|(&v, &(is_str, a, b))| match v {
                    Value::String(s) if is_str => s.as_bytes(),
                    _ => &numbers[a..b],
                })
                .collect();
            let total: usize = parts.iter().map(|p| p.len()).sum();
            if total > ctx.max_string_len() {
                return Err(Error::runtime("string length overflow"));
            }
            ctx.check_alloc(total)?;
            crate::buffer::charge_bytes(ctx, total);
            let s = ctx.concat(&parts);
            *at_mut(&mut ts.stack, top - run) = Value::String(s);
            n -= run - 1;
        } else {
            let mut tm = metamethod(ctx, a, MetaEvent::Concat);
            if tm.is_nil() {
                tm = metamethod(ctx, b, MetaEvent::Concat);
            }
            if tm.is_nil() {
                let (bad, which) = if is_concatable(a) {
                    (b, top - 1)
                } else {
                    (a, top - 2)
                };
                let src = register_src(ts, which);
                return Err(type_error(ctx, ts, bad, "concatenate", src, Value::Nil));
            }
            return call_at_top(
                ctx,
                thread,
                ts,
                tm,
                &[a, b],
                RetMode::Concat {
                    first: first as u32,
                    n: n as u32,
                },
            );
        }
    }
    Ok(Flow::Continue)
}

/// `a .. b` of strings and integers, the most common case, without buffers on the heap: a
/// short result is built in place, right to left, and interned from there. `None` when either
/// is neither a string nor an integer.
#[inline(never)]
pub(super) fn concat_pair<'gc>(
    ctx: Ctx<'gc>,
    a: Value<'gc>,
    b: Value<'gc>,
) -> Result<Option<LuaStr<'gc>>, Error<'gc>> {
    let mut buf = [0u8; BUILD_LEN];
    match build_short_pair(ctx, a, b, &mut buf) {
        Built::Short(start) => return Ok(Some(ctx.intern_built(&buf, start))),
        Built::Neither => return Ok(None),
        Built::Long => {}
    }
    let (mut da, mut db) = ([0u8; 20], [0u8; 20]);
    let (Some(pa), Some(pb)) = (operand_bytes(a, &mut da), operand_bytes(b, &mut db)) else {
        return Ok(None);
    };
    let len = pa.len() + pb.len();
    if len > ctx.max_string_len() {
        return Err(Error::runtime("string length overflow"));
    }
    ctx.check_alloc(len)?;
    crate::buffer::charge_bytes(ctx, len);
    Ok(Some(ctx.concat(&[pa, pb])))
}

pub(super) enum Built {
    /// The result starts at this index of the buffer and ends at [`BUILD_END`].
    Short(usize),
    Long,
    /// An operand is neither a string nor an integer.
    Neither,
}

/// Writes `a .. b` of strings and integers into `buf`, right to left, when the result is a
/// short string. Out of line: `concat_pair` and the dispatch loop share it.
#[inline(never)]
pub(super) fn build_short_pair<'gc>(
    ctx: Ctx<'gc>,
    a: Value<'gc>,
    b: Value<'gc>,
    buf: &mut [u8; BUILD_LEN],
) -> Built {
    let mut start = BUILD_END;
    for v in [b, a] {
        // Past the short limit already: the long path starts over.
        if start < BUILD_END - MAX_SHORT_LEN {
            break;
        }
        match v {
            Value::String(s) => {
                let bytes = s.as_bytes();
                start = start.saturating_sub(bytes.len());
                if let Some(to) = buf.get_mut(start..start + bytes.len()) {
                    to.copy_from_slice(bytes);
                }
            }
            Value::Integer(i) => {
                if let Some(to) = buf[..start].last_chunk_mut() {
                    start -= number::int_digits(i, to).len();
                }
            }
            _ => return Built::Neither,
        }
    }
    if BUILD_END - start <= MAX_SHORT_LEN.min(ctx.max_string_len()) {
        Built::Short(start)
    } else {
        Built::Long
    }
}

/// The bytes of a string, or the digits of an integer written into `digits`.
fn operand_bytes<'a, 'gc: 'a>(v: Value<'gc>, digits: &'a mut [u8; 20]) -> Option<&'a [u8]> {
    match v {
        Value::String(s) => Some(s.as_bytes()),
        Value::Integer(i) => Some(number::int_digits(i, digits)),
        _ => None,
    }
}

/// The register (of the running Lua function) that `stack[index]` is, for messages.
fn register_src(ts: &ThreadState<'_>, index: usize) -> Src {
    match ts.frames.last() {
        Some(Frame::Lua(f)) if index >= f.base as usize && index - (f.base as usize) < 256 => {
            Src::Reg((index - f.base as usize) as u8)
        }
        _ => Src::None,
    }
}

#[inline]
fn is_concatable(v: Value<'_>) -> bool {
    matches!(v, Value::String(_) | Value::Integer(_) | Value::Float(_))
}

fn append_concatable(buf: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::String(s) => buf.extend_from_slice(s.as_bytes()),
        Value::Integer(i) => number::write_int(buf, i),
        Value::Float(f) => number::write_float(buf, f),
        _ => {}
    }
}

/// `tostring` without metamethods: `table: 0x...`, numbers, strings...
pub fn tostring_plain<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Vec<u8> {
    let mut out = Vec::new();
    match v {
        Value::Nil => out.extend_from_slice(b"nil"),
        Value::Boolean(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Integer(i) => number::write_int(&mut out, i),
        Value::Float(f) => number::write_float(&mut out, f),
        Value::String(s) => out.extend_from_slice(s.as_bytes()),
        _ => {
            let kind: String = match ctx.metafield(v, "__name") {
                Some(Value::String(s)) => s.to_str_lossy().into_owned(),
                _ => String::from(v.type_name()),
            };
            let addr = v.addr().unwrap_or(0);
            out.extend_from_slice(format!("{kind}: 0x{addr:08x}").as_bytes());
        }
    }
    out
}
