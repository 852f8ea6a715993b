//! The basic library: `print`, `type`, `pairs`, `pcall`, `error`, `load`...

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use vm::function::LuaClosure;
use vm::lib::{
    at, bug, metamethod, to_number, tostring_plain, Action, Catch, Cont, Error, MetaEvent,
    NativeCall, Outcome,
};
use vm::number::Number;
use vm::state::Ctx;
use vm::value::Value;

use super::{set_field, set_fns, set_global_lib};

pub fn open(ctx: Ctx<'_>) {
    let g = ctx.globals();
    set_fns(
        ctx,
        g,
        &[
            ("assert", assert),
            ("collectgarbage", collectgarbage),
            ("error", error),
            ("getmetatable", getmetatable),
            ("ipairs", ipairs),
            ("load", load),
            ("next", vm::external::next_native),
            ("pairs", pairs),
            ("pcall", pcall),
            ("print", print),
            ("rawequal", rawequal),
            ("rawget", rawget),
            ("rawlen", rawlen),
            ("rawset", rawset),
            ("select", select),
            ("setmetatable", setmetatable),
            ("tonumber", tonumber),
            ("tostring", tostring),
            ("type", type_),
            ("warn", warn),
            ("xpcall", xpcall),
        ],
    );
    set_global_lib(ctx, b"_G", g);
    set_field(ctx, g, b"_VERSION", ctx.str_value(b"Lua 5.4"));
    open_helpers(ctx);
}

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

fn assert<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if call.arg(0).is_truthy() {
        return Ok(Action::Return);
    }
    call.check_any(ctx, 0)?;
    let msg = if call.nargs() >= 2 {
        call.arg(1)
    } else {
        ctx.str_value(b"assertion failed!")
    };
    Err(Error::Value(located(ctx, call, msg, 1)))
}

/// `msg` with the position of the function `level` levels up, when `msg` is a string.
fn located<'gc>(
    ctx: Ctx<'gc>,
    call: &NativeCall<'_, 'gc>,
    msg: Value<'gc>,
    level: i64,
) -> Value<'gc> {
    match msg {
        Value::String(s) if level > 0 => {
            let mut text = call.where_(level as usize).into_bytes();
            text.extend_from_slice(s.as_bytes());
            ctx.str_value(&text)
        }
        _ => msg,
    }
}

fn error<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let level = call.opt_integer(ctx, 1, 1)?;
    Err(Error::Value(located(ctx, call, call.arg(0), level)))
}

fn collectgarbage<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    const OPTIONS: &[&str] = &[
        "stop",
        "restart",
        "collect",
        "count",
        "step",
        "setpause",
        "setstepmul",
        "isrunning",
        "generational",
        "incremental",
    ];
    let opt = *at(
        OPTIONS,
        call.check_option(ctx, 0, Some("collect"), OPTIONS)?,
    );
    if call.thread_state().finalizing && matches!(opt, "collect" | "step") {
        // The collector is not reentrant: asked from a finalizer, it declines.
        return call.ret1(Value::from(false));
    }
    match opt {
        "collect" => {
            ctx.request_full_gc();
            call.ret1(Value::from(0i64))
        }
        "count" => {
            let kb = ctx.memory_used() as f64 / 1024.0;
            call.ret1(Value::from(kb))
        }
        "step" => {
            ctx.request_full_gc();
            call.ret1(Value::from(true))
        }
        "isrunning" => call.ret1(Value::from(!ctx.gc_stopped())),
        "stop" | "restart" => {
            ctx.set_gc_stopped(opt == "stop");
            call.ret1(Value::from(0i64))
        }
        "generational" | "incremental" => {
            let previous = ctx.set_gc_mode(opt);
            call.ret1(ctx.str_value(previous.as_bytes()))
        }
        "setpause" | "setstepmul" => call.ret1(Value::from(0i64)),
        _ => call.ret1(Value::from(0i64)),
    }
}

fn getmetatable<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.check_any(ctx, 0)?;
    let Some(mt) = vm::lib::metatable_of(ctx, v) else {
        return call.ret1(Value::Nil);
    };
    let protected = mt.get_str(ctx.intern(b"__metatable"));
    if !protected.is_nil() {
        return call.ret1(protected);
    }
    call.ret1(Value::from(mt))
}

fn setmetatable<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let t = call.check_table(ctx, 0)?;
    let mt = match call.arg(1) {
        Value::Nil => None,
        Value::Table(mt) => Some(mt),
        _ => return Err(call.type_err(ctx, 1, "nil or table")),
    };
    if let Some(old) = t.metatable() {
        if !old.get_str(ctx.intern(b"__metatable")).is_nil() {
            return Err(Error::runtime("cannot change a protected metatable"));
        }
    }
    t.set_metatable(ctx.mc, mt);
    vm::lib::note_metatable(ctx, Value::Table(t), mt);
    call.ret1(Value::from(t))
}

fn pairs<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.check_any(ctx, 0)?;
    let tm = metamethod(ctx, v, MetaEvent::Pairs);
    if tm.is_nil() {
        let next = ctx.registry().get_str(ctx.intern(b"next"));
        return call.ret(&[next, v, Value::Nil]);
    }
    call.set_nargs(0);
    call.push(tm);
    call.push(v);
    Ok(Action::Call {
        at: 0,
        then: Cont::yieldable(pairs_cont, Catch::No),
    })
}

fn pairs_cont<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // pairs does not catch
    };
    call.ret_from(at)?;
    call.set_nargs(3);
    Ok(Action::Return)
}

fn ipairs<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let t = call.check_any(ctx, 0)?;
    let aux = ctx.registry().get_str(ctx.intern(b"ipairs_aux"));
    call.ret(&[aux, t, Value::Integer(0)])
}

fn ipairs_aux<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let i = call.check_integer(ctx, 1)?.wrapping_add(1);
    let t = call.arg(0);
    if let Value::Table(tt) = t {
        let v = tt.get_int(i);
        if !v.is_nil() || tt.metatable().is_none() {
            return if v.is_nil() {
                call.ret1(Value::Nil)
            } else {
                call.ret(&[Value::Integer(i), v])
            };
        }
    }
    // Through `__index`: `t[i]` as Lua code would read it.
    call.set_nargs(0);
    call.push(Value::Integer(i));
    call.push(Value::from(vm::function::NativeClosure::new(
        ctx.mc, "index", index,
    )));
    call.push(t);
    call.push(Value::Integer(i));
    Ok(Action::Call {
        at: 1,
        then: Cont::new(ipairs_cont),
    })
}

fn ipairs_cont<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // ipairs does not catch
    };
    let v = call.arg(at);
    if v.is_nil() {
        return call.ret1(Value::Nil);
    }
    let i = call.arg(0);
    call.ret(&[i, v])
}

/// `t[k]` with metamethods, as a function: how the library indexes like Lua code does.
pub(crate) fn index<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (mut t, k) = (call.arg(0), call.arg(1));
    for _ in 0..vm::lib::MAX_TAG_LOOP {
        let tm = match t {
            Value::Table(tt) if tt.external_id().is_some() => {
                return call.ret1(vm::external::raw_get(ctx, tt, k)?);
            }
            Value::Table(tt) => {
                let v = tt.get(k);
                if !v.is_nil() {
                    return call.ret1(v);
                }
                let tm = match tt.metatable() {
                    Some(mt) => vm::lib::event_of(ctx, mt, MetaEvent::Index),
                    None => Value::Nil,
                };
                if tm.is_nil() {
                    return call.ret1(Value::Nil);
                }
                tm
            }
            _ => {
                let tm = metamethod(ctx, t, MetaEvent::Index);
                if tm.is_nil() {
                    return Err(Error::runtime(format!(
                        "attempt to index a {} value",
                        vm::lib::type_name_for_message(ctx, t)
                    )));
                }
                tm
            }
        };
        if let Value::Function(_) = tm {
            return call.ret(&[tm, t, k]).map(|_| Action::TailCall { at: 0 });
        }
        t = tm;
    }
    Err(Error::runtime("'__index' chain too long; possible loop"))
}

fn pcall<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.check_any(ctx, 0)?;
    Ok(Action::Call {
        at: 0,
        then: Cont::yieldable(protected_cont, Catch::Yes),
    })
}

fn xpcall<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.check_function(ctx, 1)?;
    let n = call.nargs();
    let f = call.arg(0);
    call.push(f);
    for i in 2..n {
        let a = call.arg(i);
        call.push(a);
    }
    Ok(Action::Call {
        at: n,
        then: Cont::yieldable(protected_cont, Catch::WithHandler { handler: 1 }),
    })
}

/// `true` and the results, or `false` and the error.
fn protected_cont<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    match outcome {
        Outcome::Returned { at } => {
            call.ret_from(at)?;
            call.insert(0, Value::Boolean(true));
            Ok(Action::Return)
        }
        Outcome::Raised(e) => call.ret(&[Value::Boolean(false), e]),
    }
}

fn print<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    print_from(ctx, call, 0, Vec::new())
}

/// Prints arguments from `i` on; `__tostring` calls come back to `print_cont`.
fn print_from<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    start: usize,
    mut out: Vec<u8>,
) -> R<'gc> {
    let n = call.nargs();
    for i in start..n {
        if i > 0 {
            out.push(b'\t');
        }
        let v = call.arg(i);
        let tm = metamethod(ctx, v, MetaEvent::ToString);
        if !tm.is_nil() {
            ctx.with_host(|h| h.write(&out));
            call.push(tm);
            call.push(v);
            return Ok(Action::Call {
                at: n,
                then: Cont::with_state(print_cont, i as i64),
            });
        }
        out.extend_from_slice(&tostring_plain(ctx, v));
    }
    out.push(b'\n');
    ctx.with_host(|h| h.write(&out));
    call.ret0()
}

fn print_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, outcome: Outcome<'gc>) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // print does not catch
    };
    let s = tostring_result(ctx, call.arg(at))?;
    call.set_nargs(at);
    let i = call.state() as usize;
    print_from(ctx, call, i + 1, s)
}

/// The result of a `__tostring` call, checked.
fn tostring_result<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Result<Vec<u8>, Error<'gc>> {
    match v {
        Value::String(_) | Value::Integer(_) | Value::Float(_) => Ok(tostring_plain(ctx, v)),
        _ => Err(Error::runtime("'__tostring' must return a string")),
    }
}

fn tostring<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.check_any(ctx, 0)?;
    let tm = metamethod(ctx, v, MetaEvent::ToString);
    if tm.is_nil() {
        return call.ret1(match v {
            Value::String(_) => v,
            Value::Integer(_) | Value::Float(_) => Value::String(ctx.number_to_string(v)),
            _ => ctx.str_value(&tostring_plain(ctx, v)),
        });
    }
    call.set_nargs(0);
    call.push(tm);
    call.push(v);
    Ok(Action::Call {
        at: 0,
        then: Cont::new(tostring_cont),
    })
}

fn tostring_cont<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // tostring does not catch
    };
    let v = call.arg(at);
    let s = tostring_result(ctx, v)?;
    match v {
        Value::String(_) => call.ret1(v),
        _ => call.ret1(ctx.str_value(&s)),
    }
}

fn tonumber<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if call.arg(1).is_nil() {
        let v = call.check_any(ctx, 0)?;
        return match to_number(v) {
            Some(Number::Int(i)) => call.ret1(Value::from(i)),
            Some(Number::Float(f)) => call.ret1(Value::from(f)),
            None => call.ret1(Value::Nil),
        };
    }
    let base = call.check_integer(ctx, 1)?;
    let s = match call.arg(0) {
        Value::String(s) => s,
        _ => return Err(call.type_err(ctx, 0, "string")),
    };
    if !(2..=36).contains(&base) {
        return Err(Error::bad_arg(2, "base out of range"));
    }
    match parse_in_base(s.as_bytes(), base as u32) {
        Some(i) => call.ret1(Value::from(i)),
        None => call.ret1(Value::Nil),
    }
}

fn parse_in_base(s: &[u8], base: u32) -> Option<i64> {
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = s.iter().position(|c| !is_space(c))?;
    let end = s.iter().rposition(|c| !is_space(c))? + 1;
    let mut s = at(s, start..end);
    let neg = s.first() == Some(&b'-');
    if neg || s.first() == Some(&b'+') {
        s = &s[1..];
    }
    if s.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &c in s {
        let d = (c as char).to_digit(36)?;
        if d >= base {
            return None;
        }
        n = n.wrapping_mul(base as i64).wrapping_add(d as i64);
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

fn type_<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.check_any(ctx, 0)?;
    call.ret1(ctx.str_value(v.type_name().as_bytes()))
}

fn rawequal<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let a = call.check_any(ctx, 0)?;
    let b = call.check_any(ctx, 1)?;
    call.ret1(Value::from(a.raw_eq(b)))
}

fn rawget<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let t = call.check_table(ctx, 0)?;
    let k = call.check_any(ctx, 1)?;
    call.ret1(vm::external::raw_get(ctx, t, k)?)
}

fn rawset<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let t = call.check_table(ctx, 0)?;
    let k = call.check_any(ctx, 1)?;
    let v = call.check_any(ctx, 2)?;
    let running = call.running();
    vm::external::raw_set(ctx, &running, t, k, v)?;
    call.ret1(Value::from(t))
}

fn rawlen<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match call.arg(0) {
        Value::Table(t) => call.ret1(Value::from(vm::external::length(ctx, t)?)),
        Value::String(s) => call.ret1(Value::from(s.len() as i64)),
        _ => Err(call.type_err(ctx, 0, "table or string")),
    }
}

fn select<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let n = call.nargs() as i64 - 1;
    if let Value::String(s) = call.arg(0) {
        if s.as_bytes() == b"#" {
            return call.ret1(Value::from(n));
        }
    }
    let i = call.check_integer(ctx, 0)?;
    let start = if i < 0 {
        n + i
    } else if i == 0 {
        return Err(Error::bad_arg(1, "index out of range"));
    } else {
        i - 1
    };
    if start < 0 {
        return Err(Error::bad_arg(1, "index out of range"));
    }
    call.ret_from((start.min(n) + 1) as usize)
}

fn warn<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let n = call.nargs();
    call.check_string(ctx, 0)?;
    let mut msg = Vec::new();
    for i in 0..n {
        msg.extend_from_slice(call.check_bytes(ctx, i)?);
    }
    ctx.warn(&msg, n == 1);
    call.ret0()
}

fn load<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let chunk = call.arg(0);
    let mode = match call.opt_string(ctx, 2)? {
        Some(m) => m.as_bytes().to_vec(),
        None => b"bt".to_vec(),
    };
    let env = (call.nargs() >= 4).then(|| call.arg(3));
    match chunk {
        Value::String(s) => {
            let name = match call.opt_string(ctx, 1)? {
                Some(n) => n.as_bytes().to_vec(),
                None => s.as_bytes().to_vec(),
            };
            finish_load(ctx, call, s.as_bytes(), &name, &mode, env)
        }
        Value::Function(_) => {
            // Read pieces from the function; the text so far lives in argument slot 4.
            let name = match call.opt_string(ctx, 1)? {
                Some(n) => Value::String(n),
                None => ctx.str_value(b"=(load)"),
            };
            let mode = ctx.str_value(&mode);
            call.set_nargs(5);
            call.set_arg(1, name);
            call.set_arg(2, mode);
            call.set_arg(3, env.unwrap_or(Value::Nil));
            // The pieces read so far, joined once at the end.
            call.set_arg(4, Value::Table(ctx.new_table()));
            call.push(chunk);
            Ok(Action::Call {
                at: 5,
                then: reader_call(env.is_some() as i64),
            })
        }
        _ => Err(call.type_err(ctx, 0, "string")),
    }
}

/// Waits for `load`'s reader, whose errors `load` returns as its message (lua5.4 reads
/// inside its protected parser).
fn reader_call(has_env: i64) -> Cont {
    Cont {
        f: load_cont,
        catch: Catch::Yes,
        yieldable: false,
        state: has_env,
    }
}

fn load_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, outcome: Outcome<'gc>) -> R<'gc> {
    let at = match outcome {
        Outcome::Returned { at } => at,
        Outcome::Raised(e) => return call.ret(&[Value::Nil, e]),
    };
    let piece = call.arg(at);
    call.set_nargs(5);
    match piece {
        Value::Nil => {}
        Value::String(s) if s.is_empty() => {}
        Value::String(s) => {
            let Value::Table(pieces) = call.arg(4) else {
                bug() // load keeps its pieces in slot 4
            };
            let n = pieces.length();
            pieces.set_int(ctx.mc, n + 1, Value::String(s));
            let f = call.arg(0);
            call.push(f);
            return Ok(Action::Call {
                at: 5,
                then: reader_call(call.state()),
            });
        }
        _ => {
            return call.ret(&[
                Value::Nil,
                ctx.str_value(b"reader function must return a string"),
            ])
        }
    }
    let (Value::Table(pieces), Value::String(name), Value::String(mode)) =
        (call.arg(4), call.arg(1), call.arg(2))
    else {
        bug() // load keeps its state in slots 1, 2 and 4
    };
    let mut text = Vec::new();
    for i in 1..=pieces.length() {
        if let Value::String(s) = pieces.get_int(i) {
            text.extend_from_slice(s.as_bytes());
        }
    }
    let env = (call.state() != 0).then(|| call.arg(3));
    finish_load(ctx, call, &text, name.as_bytes(), mode.as_bytes(), env)
}

fn finish_load<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    text: &[u8],
    name: &[u8],
    mode: &[u8],
    env: Option<Value<'gc>>,
) -> R<'gc> {
    match load_chunk(ctx, text, name, mode, env) {
        Ok(f) => call.ret1(Value::from(f)),
        Err(msg) => call.ret(&[Value::Nil, ctx.str_value(&msg)]),
    }
}

/// Memory a chunk may take to compile and load, per byte of it.
const COMPILE_BYTES_PER_BYTE: usize = 24;

/// Loads a text or binary chunk as `load` does (`mode` says which are allowed), or gives
/// the message `load` returns.
pub(crate) fn load_chunk<'gc>(
    ctx: Ctx<'gc>,
    text: &[u8],
    name: &[u8],
    mode: &[u8],
    env: Option<Value<'gc>>,
) -> Result<LuaClosure<'gc>, Vec<u8>> {
    let binary = text.first() == Some(&0x1b);
    let allowed = if binary {
        mode.contains(&b'b')
    } else {
        mode.contains(&b't')
    };
    if binary && allowed && !ctx.config().binary_chunks {
        return Err(b"binary chunks are disabled by the host".to_vec());
    }
    if !allowed {
        let kind = if binary { "binary" } else { "text" };
        let msg = format!(
            "attempt to load a {kind} chunk (mode is '{}')",
            String::from_utf8_lossy(mode)
        );
        return Err(msg.into_bytes());
    }
    // Compiling allocates outside the heap's accounting, up to about 21 times the chunk
    // (measured: a chunk of empty functions); the limit must hold while it does.
    if ctx
        .check_alloc(text.len().saturating_mul(COMPILE_BYTES_PER_BYTE))
        .is_err()
    {
        return Err(b"not enough memory".to_vec());
    }
    if binary {
        vm::dump::undump(text, name)
            .map(|proto| ctx.load_proto(proto, env))
            .map_err(String::into_bytes)
    } else {
        ctx.load(text, name, env).map_err(|e| e.message)
    }
}

/// Registers what other parts of the library reach through the registry.
fn open_helpers(ctx: Ctx<'_>) {
    let reg = ctx.registry();
    let aux = vm::function::NativeClosure::new(ctx.mc, "ipairs_aux", ipairs_aux);
    set_field(ctx, reg, b"ipairs_aux", Value::from(aux));
    let next = ctx.globals().get_str(ctx.intern(b"next"));
    set_field(ctx, reg, b"next", next);
}
