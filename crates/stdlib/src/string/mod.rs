//! The `string` library and the string metatable (`s:upper()`, and arithmetic on numeric
//! strings through `__add`..., which is how Lua 5.4 coerces them).

mod format;
mod pack;
mod pattern;

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use vm::function::NativeClosure;
use vm::lib::{
    append, arith_numbers, at, bug, charge_bytes, grow, metamethod, reserve, tostring_plain,
    Action, ArithOp, Cont, Error, MetaEvent, NativeCall, Outcome,
};
use vm::number::{write_int, Number};
use vm::state::Ctx;
use vm::value::{Type, Value};

use super::access::{self, result_of, stash, take, Flow};

use super::{register_lib, set_field};
use pattern::{Capture, MatchError, Matcher, State};

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// Pattern-matching steps between two turns of the interpreter: a long match pauses after
/// this many (each charged as an instruction), so limits and slices hold inside it.
const MATCH_TURN: u64 = 2048;

/// Registers `string` and sets the metatable all strings share.
pub fn open(ctx: Ctx<'_>) {
    let string = register_lib(
        ctx,
        "string",
        &[
            ("byte", byte),
            ("char", char),
            ("find", find),
            ("format", format),
            ("gmatch", gmatch),
            ("gsub", gsub),
            ("len", len),
            ("lower", lower),
            ("match", match_),
            ("pack", pack::pack),
            ("packsize", pack::packsize),
            ("rep", rep),
            ("reverse", reverse),
            ("sub", sub),
            ("unpack", pack::unpack),
            ("upper", upper),
        ],
    );
    let meta = ctx.new_table();
    set_field(ctx, meta, b"__index", Value::Table(string));
    for (i, (event, _)) in ARITH.iter().enumerate() {
        let f =
            NativeClosure::with_upvals(ctx.mc, event, arith, Box::new([Value::Integer(i as i64)]));
        set_field(ctx, meta, event.as_bytes(), Value::from(f));
    }
    ctx.set_type_metatable(Type::String, Some(meta));
}

/// `posrelatI`: a 1-based start position from a possibly negative one (may be past the end).
pub(crate) fn posrelat_start(pos: i64, len: usize) -> u64 {
    let len = len as i64;
    if pos > 0 {
        pos as u64
    } else if pos == 0 || pos < -len {
        1
    } else {
        (len + pos + 1) as u64
    }
}

/// `getendpos`: a 1-based end position from a possibly negative one, clipped to the string.
fn end_pos(pos: i64, len: usize) -> u64 {
    let len = len as i64;
    if pos > len {
        len as u64
    } else if pos >= 0 {
        pos as u64
    } else if pos < -len {
        0
    } else {
        (len + pos + 1) as u64
    }
}

fn len<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    call.ret1(Value::from(s.len() as i64))
}

fn sub<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let start = posrelat_start(call.opt_integer(ctx, 1, 1)?, s.len());
    let end = end_pos(call.opt_integer(ctx, 2, -1)?, s.len());
    if start > end {
        return call.ret1(ctx.str_value(b""));
    }
    // start <= end <= len: both fit in usize.
    let piece = at(s, start as usize - 1..end as usize);
    ctx.check_alloc(piece.len())?;
    charge_bytes(ctx, piece.len());
    call.ret1(ctx.str_value(piece))
}

/// Returns `f(s)` for the string argument.
fn map_bytes<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    f: impl FnOnce(&[u8]) -> Vec<u8>,
) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    // The mapped copy and the string made of it.
    ctx.check_alloc(s.len().saturating_mul(2))?;
    charge_bytes(ctx, s.len());
    call.ret1(ctx.str_value(&f(s)))
}

fn upper<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    map_bytes(ctx, call, <[u8]>::to_ascii_uppercase)
}

fn lower<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    map_bytes(ctx, call, <[u8]>::to_ascii_lowercase)
}

fn reverse<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    map_bytes(ctx, call, |s| s.iter().rev().copied().collect())
}

fn rep<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let n = call.check_integer(ctx, 1)?;
    let sep: &[u8] = match call.opt_string(ctx, 2)? {
        Some(sep) => sep.as_bytes(),
        None => b"",
    };
    let unit = (s.len() + sep.len()) as u64;
    // Nothing to repeat ends at once (lua5.4 would copy nothing 2^62 times).
    if n <= 0 || unit == 0 {
        return call.ret1(ctx.str_value(b""));
    }
    let n = n as u64;
    if unit > ctx.max_string_len() as u64 / n {
        return Err(Error::runtime("resulting string too large"));
    }
    // n * (|s| + |sep|) fits the longest string, so the exact total does too.
    let total = (n * s.len() as u64 + (n - 1) * sep.len() as u64) as usize;
    let mut out = Vec::new();
    reserve(ctx, &mut out, total)?;
    for i in 0..n {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(s);
    }
    call.ret1(ctx.str_value(&out))
}

fn byte<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let s = call.check_bytes(ctx, 0)?;
    let first = call.opt_integer(ctx, 1, 1)?;
    let end = end_pos(call.opt_integer(ctx, 2, first)?, s.len());
    let start = posrelat_start(first, s.len());
    if start > end {
        return call.ret0();
    }
    let n = end - start + 1;
    if n >= i32::MAX as u64 {
        return Err(Error::runtime("string slice too long"));
    }
    if call.thread_state().stack.len() as u64 + n > ctx.max_stack() as u64 {
        return Err(Error::runtime("stack overflow (string slice too long)"));
    }
    // The values, then the stack they are returned on.
    ctx.check_alloc(n as usize * 2 * core::mem::size_of::<Value>())?;
    call.thread_state().reserve_stack(ctx, n as usize)?;
    let values: Vec<Value<'gc>> = at(s, start as usize - 1..end as usize)
        .iter()
        .map(|&b| Value::Integer(b as i64))
        .collect();
    call.ret(&values)
}

fn char<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let n = call.nargs();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let c = call.check_integer(ctx, i)?;
        if c as u64 > 255 {
            return Err(Error::bad_arg(i + 1, "value out of range"));
        }
        out.push(c as u8);
    }
    call.ret1(ctx.str_value(&out))
}

fn match_error<'gc>(e: MatchError) -> Error<'gc> {
    match e {
        MatchError::Pattern(msg) => Error::Runtime(msg),
        MatchError::OutOfSteps => bug(), // a paused match is resumed, not raised
    }
}

/// The value of a capture.
fn capture_value<'gc>(ctx: Ctx<'gc>, src: &[u8], c: Capture) -> Value<'gc> {
    match c {
        Capture::Range(a, b) => ctx.str_value(at(src, a..b)),
        Capture::Position(p) => Value::Integer(p as i64),
    }
}

/// The values a match `s..e` yields: its captures, or the whole match.
fn captures<'gc>(
    ctx: Ctx<'gc>,
    m: &Matcher<'_>,
    src: &[u8],
    s: usize,
    e: usize,
) -> Result<Vec<Value<'gc>>, Error<'gc>> {
    // A plain loop: collecting into a `Result` costs the module an adapter of its own.
    let mut values = Vec::with_capacity(m.capture_count());
    for i in 0..m.capture_count() {
        let capture = m.capture(i, s, e).map_err(match_error)?;
        values.push(capture_value(ctx, src, capture));
    }
    Ok(values)
}

fn find<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    find_or_match(ctx, call, true)
}

fn match_<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    find_or_match(ctx, call, false)
}

fn find_or_match<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, find: bool) -> R<'gc> {
    let src = call.check_bytes(ctx, 0)?;
    let pat = call.check_bytes(ctx, 1)?;
    let init = posrelat_start(call.opt_integer(ctx, 2, 1)?, src.len()) - 1;
    if init > src.len() as u64 {
        return call.ret1(Value::Nil);
    }
    let init = init as usize;
    if find && (call.arg(3).is_truthy() || pattern::is_plain(pat)) {
        charge_bytes(ctx, src.len() - init);
        return match pattern::find_plain(src, pat, init) {
            Some(at) => call.ret(&[
                Value::Integer(at as i64 + 1),
                Value::Integer((at + pat.len()) as i64),
            ]),
            None => call.ret1(Value::Nil),
        };
    }
    let mut m = Matcher::new(src, pat, MATCH_TURN);
    let found = pattern::find(&mut m, init);
    find_result(ctx, call, &mut m, found, find)
}

/// Where `find` and `match` keep a paused matcher (after their four arguments).
const FIND_STATE: usize = 4;

fn find_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, _: Outcome<'gc>) -> R<'gc> {
    let (Value::String(src), Value::String(pat)) = (call.arg(0), call.arg(1)) else {
        bug() // find keeps its strings
    };
    let mut m = Matcher::with_state(src.as_bytes(), pat.as_bytes(), take(call, FIND_STATE));
    m.set_steps(MATCH_TURN);
    let found = m.resume();
    find_result(ctx, call, &mut m, found, call.state() != 0)
}

/// Charges the steps a matcher took since it was given [`MATCH_TURN`].
fn charge_steps(ctx: Ctx<'_>, m: &Matcher<'_>) {
    ctx.charge_fuel((MATCH_TURN - m.steps_left()) as i64);
}

/// Keeps a matcher that ran out of steps in `slot` and pauses; `then` resumes it.
fn pause<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    slot: usize,
    m: &mut Matcher<'_>,
    then: Cont,
) -> R<'gc> {
    stash::<State>(ctx, call, slot, m.take_state());
    Ok(Action::Pause { then })
}

fn find_result<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    m: &mut Matcher<'_>,
    found: Result<Option<(usize, usize)>, MatchError>,
    find: bool,
) -> R<'gc> {
    charge_steps(ctx, m);
    let (s, e) = match found {
        Err(MatchError::OutOfSteps) => {
            let then = Cont::with_state(find_cont, i64::from(find));
            return pause(ctx, call, FIND_STATE, m, then);
        }
        Err(e) => return Err(match_error(e)),
        Ok(None) => return call.ret1(Value::Nil),
        Ok(Some(bounds)) => bounds,
    };
    let Value::String(src) = call.arg(0) else {
        bug() // find keeps its subject
    };
    let src = src.as_bytes();
    let mut results = Vec::new();
    if find {
        results.push(Value::Integer(s as i64 + 1));
        results.push(Value::Integer(e as i64));
        if m.level() == 0 {
            return call.ret(&results);
        }
    }
    results.extend(captures(ctx, m, src, s, e)?);
    call.ret(&results)
}

/// Upvalues of the `gmatch` iterator.
const GMATCH_SRC: usize = 0;
const GMATCH_PAT: usize = 1;
/// Where the next search starts.
const GMATCH_POS: usize = 2;
/// The end of the last match (-1 before the first), so an empty match is not found twice.
const GMATCH_LAST: usize = 3;

fn gmatch<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let src = call.check_string(ctx, 0)?;
    let pat = call.check_string(ctx, 1)?;
    let init = posrelat_start(call.opt_integer(ctx, 2, 1)?, src.len()) - 1;
    let start = init.min(src.len() as u64 + 1) as i64;
    let iter = NativeClosure::with_upvals(
        ctx.mc,
        "gmatch_step",
        gmatch_step,
        Box::new([
            Value::String(src),
            Value::String(pat),
            Value::Integer(start),
            Value::Integer(-1),
        ]),
    );
    call.ret1(Value::from(iter))
}

fn gmatch_step<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let this = call.closure();
    let (Value::String(src), Value::String(pat)) = (this.upval(GMATCH_SRC), this.upval(GMATCH_PAT))
    else {
        bug() // gmatch keeps its strings
    };
    let int_upval = |i| match this.upval(i) {
        Value::Integer(n) => n,
        _ => bug(), // gmatch keeps its positions
    };
    let (from, last) = (int_upval(GMATCH_POS) as usize, int_upval(GMATCH_LAST));
    if from > src.len() {
        return call.ret0();
    }
    // The slots of the for loop's state and control hold a paused matcher instead.
    call.set_nargs(0);
    let mut m = Matcher::new(src.as_bytes(), pat.as_bytes(), MATCH_TURN);
    let found = m.search(from, 0, false, usize::try_from(last).ok());
    gmatch_result(ctx, call, &mut m, found)
}

fn gmatch_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, _: Outcome<'gc>) -> R<'gc> {
    let this = call.closure();
    let (Value::String(src), Value::String(pat)) = (this.upval(GMATCH_SRC), this.upval(GMATCH_PAT))
    else {
        bug() // gmatch keeps its strings
    };
    let mut m = Matcher::with_state(src.as_bytes(), pat.as_bytes(), take(call, 0));
    m.set_steps(MATCH_TURN);
    let found = m.resume();
    gmatch_result(ctx, call, &mut m, found)
}

fn gmatch_result<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    m: &mut Matcher<'_>,
    found: Result<Option<(usize, usize)>, MatchError>,
) -> R<'gc> {
    charge_steps(ctx, m);
    let this = call.closure();
    let Value::String(src) = this.upval(GMATCH_SRC) else {
        bug() // gmatch keeps its subject
    };
    let src = src.as_bytes();
    match found {
        Err(MatchError::OutOfSteps) => pause(ctx, call, 0, m, Cont::new(gmatch_cont)),
        Err(e) => Err(match_error(e)),
        Ok(Some((s, e))) => {
            this.set_upval(ctx.mc, GMATCH_POS, Value::Integer(e as i64));
            this.set_upval(ctx.mc, GMATCH_LAST, Value::Integer(e as i64));
            let values = captures(ctx, m, src, s, e)?;
            call.ret(&values)
        }
        Ok(None) => {
            this.set_upval(ctx.mc, GMATCH_POS, Value::Integer(src.len() as i64 + 1));
            call.ret0()
        }
    }
}

/// Argument slots of `gsub` while it runs: the four arguments, then its state.
mod gsub_slot {
    pub const SRC: usize = 0;
    pub const PAT: usize = 1;
    pub const REPL: usize = 2;
    pub const MAX: usize = 3;
    /// The result so far, kept while a replacement function runs.
    pub const BUFFER: usize = 4;
    /// Replacements made.
    pub const COUNT: usize = 5;
    /// The match waiting for its replacement value.
    pub const START: usize = 6;
    pub const END: usize = 7;
    /// Whether any replacement changed the text (if none did, the subject is the result).
    pub const CHANGED: usize = 8;
    /// A paused matcher; START then holds where it searches, END the last match's end.
    pub const MATCHER: usize = 9;
    pub const ALL: usize = 10;
}

fn gsub<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let src = call.check_string(ctx, 0)?;
    call.check_string(ctx, 1)?;
    match call.arg(2) {
        Value::Integer(_) | Value::Float(_) => {
            call.check_string(ctx, 2)?;
        }
        Value::String(_) | Value::Function(_) | Value::Table(_) => {}
        _ => return Err(call.type_err(ctx, 2, "string/function/table")),
    }
    let max = call.opt_integer(ctx, 3, src.len() as i64 + 1)?;
    call.set_nargs(gsub_slot::ALL);
    call.set_arg(gsub_slot::MAX, Value::Integer(max));
    call.set_arg(gsub_slot::CHANGED, Value::Boolean(false));
    gsub_run(ctx, call, Vec::new(), 0, 0, Pending::None)
}

/// What `gsub` goes on with.
enum Pending<'gc> {
    None,
    /// The replacement value for the match from the given start to the current position.
    Replacement(Value<'gc>, usize),
    /// A paused search at the current position, and the end of the last match.
    Search(Box<State>, Option<usize>),
}

fn int_slot(call: &NativeCall<'_, '_>, slot: usize) -> i64 {
    match call.arg(slot) {
        Value::Integer(n) => n,
        _ => bug(), // gsub keeps its state as integers
    }
}

fn gsub_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, outcome: Outcome<'gc>) -> R<'gc> {
    let value = result_of(call, outcome);
    let count = int_slot(call, gsub_slot::COUNT);
    let s = int_slot(call, gsub_slot::START) as usize;
    let e = int_slot(call, gsub_slot::END) as usize;
    let buf: Vec<u8> = take(call, gsub_slot::BUFFER);
    gsub_run(ctx, call, buf, count, e, Pending::Replacement(value, s))
}

fn gsub_resume<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, _: Outcome<'gc>) -> R<'gc> {
    let count = int_slot(call, gsub_slot::COUNT);
    let pos = int_slot(call, gsub_slot::START) as usize;
    let last = usize::try_from(int_slot(call, gsub_slot::END)).ok();
    let buf: Vec<u8> = take(call, gsub_slot::BUFFER);
    let st = Box::new(take(call, gsub_slot::MATCHER));
    gsub_run(ctx, call, buf, count, pos, Pending::Search(st, last))
}

/// The `gsub` loop from subject position `pos` with `count` replacements made.
fn gsub_run<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut buf: Vec<u8>,
    mut count: i64,
    mut pos: usize,
    pending: Pending<'gc>,
) -> R<'gc> {
    let (Value::String(src_str), Value::String(pat), Value::Integer(max)) = (
        call.arg(gsub_slot::SRC),
        call.arg(gsub_slot::PAT),
        call.arg(gsub_slot::MAX),
    ) else {
        bug() // gsub checked its arguments
    };
    let repl = call.arg(gsub_slot::REPL);
    let src = src_str.as_bytes();
    let pat = pat.as_bytes();
    let anchor = pat.first() == Some(&b'^');
    let p = usize::from(anchor);
    let mut last_match = None;
    let mut changed = call.arg(gsub_slot::CHANGED).is_truthy();
    let mut m = Matcher::new(src, pat, MATCH_TURN);
    let mut paused = false;
    match pending {
        Pending::None => {}
        Pending::Replacement(value, start) => {
            changed |= add_replacement(ctx, &mut buf, value, at(src, start..pos))?;
            last_match = Some(pos);
            if anchor {
                return gsub_finish(ctx, call, buf, count, pos, changed);
            }
        }
        Pending::Search(st, last) => {
            m = Matcher::with_state(src, pat, *st);
            m.set_steps(MATCH_TURN);
            last_match = last;
            paused = true;
        }
    }
    while count < max {
        let found = if core::mem::take(&mut paused) {
            m.resume()
        } else {
            m.search(pos, p, true, last_match)
        };
        let found = match found {
            Err(MatchError::OutOfSteps) => {
                charge_steps(ctx, &m);
                stash(ctx, call, gsub_slot::BUFFER, buf);
                call.set_arg(gsub_slot::COUNT, Value::Integer(count));
                call.set_arg(gsub_slot::START, Value::Integer(pos as i64));
                let last = last_match.map_or(-1, |e| e as i64);
                call.set_arg(gsub_slot::END, Value::Integer(last));
                call.set_arg(gsub_slot::CHANGED, Value::Boolean(changed));
                return pause(
                    ctx,
                    call,
                    gsub_slot::MATCHER,
                    &mut m,
                    Cont::new(gsub_resume),
                );
            }
            found => found.map_err(match_error)?,
        };
        match found {
            Some((s, e)) => {
                count += 1;
                pos = e;
                last_match = Some(e);
                let wait = match repl {
                    Value::String(r) => {
                        add_template(ctx, &mut buf, r.as_bytes(), &m, src, s, e)?;
                        changed = true;
                        None
                    }
                    Value::Function(_) => {
                        let args = captures(ctx, &m, src, s, e)?;
                        Some(access::call_function(
                            call,
                            repl,
                            &args,
                            Cont::new(gsub_cont),
                        ))
                    }
                    _ => {
                        let key = capture_value(ctx, src, m.capture(0, s, e).map_err(match_error)?);
                        match access::get(ctx, call, repl, key, Cont::new(gsub_cont))? {
                            Flow::Ready(v) => {
                                changed |= add_replacement(ctx, &mut buf, v, at(src, s..e))?;
                                None
                            }
                            Flow::Wait(action) => Some(action),
                        }
                    }
                };
                if let Some(action) = wait {
                    charge_steps(ctx, &m);
                    stash(ctx, call, gsub_slot::BUFFER, buf);
                    call.set_arg(gsub_slot::COUNT, Value::Integer(count));
                    call.set_arg(gsub_slot::START, Value::Integer(s as i64));
                    call.set_arg(gsub_slot::END, Value::Integer(e as i64));
                    call.set_arg(gsub_slot::CHANGED, Value::Boolean(changed));
                    return Ok(action);
                }
            }
            None if pos < src.len() => {
                buf.push(*at(src, pos));
                pos += 1;
            }
            None => break,
        }
        if anchor {
            break;
        }
    }
    charge_steps(ctx, &m);
    gsub_finish(ctx, call, buf, count, pos, changed)
}

fn gsub_finish<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut buf: Vec<u8>,
    count: i64,
    pos: usize,
    changed: bool,
) -> R<'gc> {
    let Value::String(src) = call.arg(gsub_slot::SRC) else {
        bug() // gsub keeps its subject
    };
    if !changed {
        return call.ret(&[Value::String(src), Value::Integer(count)]);
    }
    let rest = at(src.as_bytes(), pos..);
    let total = buf.len().saturating_add(rest.len());
    charge_bytes(ctx, buf.len());
    reserve(ctx, &mut buf, total)?;
    buf.extend_from_slice(rest);
    call.ret(&[ctx.str_value(&buf), Value::Integer(count)])
}

/// Appends what a replacement function or table gave for the match `whole`; whether that
/// changed the text (`nil` and `false` keep the match).
fn add_replacement<'gc>(
    ctx: Ctx<'gc>,
    buf: &mut Vec<u8>,
    value: Value<'gc>,
    whole: &[u8],
) -> Result<bool, Error<'gc>> {
    match value {
        Value::Nil | Value::Boolean(false) => {
            append(ctx, buf, whole)?;
            return Ok(false);
        }
        Value::String(s) => append(ctx, buf, s.as_bytes())?,
        Value::Integer(_) | Value::Float(_) => append(ctx, buf, &tostring_plain(ctx, value))?,
        other => {
            return Err(Error::runtime(format!(
                "invalid replacement value (a {})",
                other.type_name()
            )))
        }
    }
    Ok(true)
}

/// Appends a replacement string, with `%0`..`%9` standing for captures and `%%` for `%`.
fn add_template<'gc>(
    ctx: Ctx<'gc>,
    buf: &mut Vec<u8>,
    template: &[u8],
    m: &Matcher<'_>,
    src: &[u8],
    s: usize,
    e: usize,
) -> Result<(), Error<'gc>> {
    grow(ctx, buf, template.len())?;
    let mut i = 0;
    while i < template.len() {
        let c = template[i];
        i += 1;
        if c != b'%' {
            buf.push(c);
            continue;
        }
        let d = template.get(i).copied().unwrap_or(0);
        i += 1;
        let capture = match d {
            b'%' => {
                buf.push(b'%');
                continue;
            }
            b'0' => Capture::Range(s, e),
            b'1'..=b'9' => m.capture((d - b'1') as usize, s, e).map_err(match_error)?,
            _ => return Err(Error::runtime("invalid use of '%' in replacement string")),
        };
        match capture {
            Capture::Range(a, b) => append(ctx, buf, at(src, a..b))?,
            Capture::Position(p) => write_int(buf, p as i64),
        }
    }
    Ok(())
}

fn format<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.check_string(ctx, 0)?;
    format_from(ctx, call, 0, 0, Vec::new())
}

/// Formats from byte `from` of the format string (`used` arguments consumed so far); a
/// `__tostring` call suspends it, with the text so far in a slot after the arguments.
fn format_from<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    from: usize,
    used: usize,
    mut out: Vec<u8>,
) -> R<'gc> {
    let Value::String(fmt) = call.arg(0) else {
        bug() // format checked its format string
    };
    match format::format(ctx, fmt.as_bytes(), call.args(), from, used, &mut out)? {
        format::Progress::Done => {
            charge_bytes(ctx, out.len());
            call.ret1(ctx.str_value(&out))
        }
        format::Progress::ToString { at, arg } => {
            let v = call.arg(arg);
            let tm = metamethod(ctx, v, MetaEvent::ToString);
            let buffer_slot = call.nargs();
            stash(ctx, call, buffer_slot, out);
            let then = Cont::with_state(format_cont, ((at as i64) << 32) | arg as i64);
            Ok(access::call_function(call, tm, &[v], then))
        }
    }
}

fn format_cont<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let v = result_of(call, outcome);
    if !matches!(v, Value::String(_) | Value::Integer(_) | Value::Float(_)) {
        return Err(Error::runtime("'__tostring' must return a string"));
    }
    let buffer_slot = call.nargs() - 1;
    let out: Vec<u8> = take(call, buffer_slot);
    call.set_nargs(buffer_slot);
    let (at, arg) = (
        (call.state() >> 32) as usize,
        (call.state() & 0xffff_ffff) as usize,
    );
    // The conversion runs again, now on the string.
    call.set_arg(arg, v);
    format_from(ctx, call, at, arg - 1, out)
}

/// The string metatable's arithmetic metamethods, by upvalue index.
const ARITH: [(&str, ArithOp); 8] = [
    ("__add", ArithOp::Add),
    ("__sub", ArithOp::Sub),
    ("__mul", ArithOp::Mul),
    ("__mod", ArithOp::Mod),
    ("__pow", ArithOp::Pow),
    ("__div", ArithOp::Div),
    ("__idiv", ArithOp::IDiv),
    ("__unm", ArithOp::Unm),
];

/// A number operand of string arithmetic: a number, or a string that reads as one.
fn arith_operand(v: Value<'_>) -> Option<Value<'_>> {
    match v {
        Value::Integer(_) | Value::Float(_) => Some(v),
        Value::String(s) => match vm::number::parse_number(s.as_bytes())? {
            Number::Int(i) => Some(Value::Integer(i)),
            Number::Float(f) => Some(Value::Float(f)),
        },
        _ => None,
    }
}

/// `a <op> b` where one operand is a string: numeric strings convert; otherwise the other
/// operand's metamethod decides, or it is an error.
fn arith<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let Value::Integer(which) = call.upval(0) else {
        bug() // string arithmetic knows its operator
    };
    let (event, op) = *at(&ARITH, which as usize);
    let (a, b) = (call.arg(0), call.arg(1));
    if let (Some(x), Some(y)) = (arith_operand(a), arith_operand(b)) {
        return match arith_numbers(op, x, y) {
            Ok(Some(v)) => call.ret1(v),
            Ok(None) => bug(), // both operands are numbers
            // Raised inside a native: lua5.4 gives these no position.
            Err(Error::Runtime(msg)) => Err(access::plain_error(ctx, &msg)),
            Err(e) => Err(e),
        };
    }
    let tm = match b {
        Value::String(_) => None,
        _ => ctx.metafield(b, event),
    };
    match tm {
        Some(f) => {
            call.ret(&[f, a, b])?;
            Ok(Action::TailCall { at: 0 })
        }
        None => Err(Error::runtime(format!(
            "attempt to {} a '{}' with a '{}'",
            event.strip_prefix("__").unwrap_or(event),
            a.type_name(),
            b.type_name()
        ))),
    }
}
