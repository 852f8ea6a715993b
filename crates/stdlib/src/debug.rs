//! The debug library: tracebacks, frame and function information, locals, upvalues,
//! metatables and hooks.

use alloc::string::String;
use alloc::vec::Vec;

use vm::function::{Upval, UpvalState};
use vm::lib::{self as interp, at, at_mut, bug, hook, Action, Error, NativeCall};
use vm::proto::chunk_id;
use vm::state::Ctx;
use vm::table::Table;
use vm::thread::{Frame, Thread, ThreadState};
use vm::value::{Function, Value};

use super::{register_lib, set_field};

pub fn open(ctx: Ctx<'_>) {
    register_lib(
        ctx,
        "debug",
        &[
            ("debug", super::io::debug_prompt),
            ("gethook", gethook),
            ("getinfo", getinfo),
            ("getlocal", getlocal),
            ("getmetatable", getmetatable),
            ("getregistry", getregistry),
            ("getupvalue", getupvalue),
            ("getuservalue", getuservalue),
            ("sethook", sethook),
            ("setlocal", setlocal),
            ("setmetatable", setmetatable),
            ("setupvalue", setupvalue),
            ("setuservalue", setuservalue),
            ("traceback", traceback),
            ("upvalueid", upvalueid),
            ("upvaluejoin", upvaluejoin),
            ("setcstacklimit", setcstacklimit),
        ],
    );
    // Where lua5.4 keeps each thread's hook: scripts (the official tests) look at it.
    let hooks = ctx.new_table();
    ctx.make_weak(hooks, b"k");
    set_field(ctx, ctx.registry(), b"_HOOKKEY", Value::Table(hooks));
}

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// The optional thread first argument: `(thread, index of the next argument)`.
fn thread_arg<'gc>(call: &NativeCall<'_, 'gc>) -> (Option<Thread<'gc>>, usize) {
    match call.arg(0) {
        Value::Thread(t) if t != call.thread() => (Some(t), 1),
        Value::Thread(_) => (None, 1),
        _ => (None, 0),
    }
}

/// Runs `f` on the state of `thread` (the running one when `None`). `f` learns whether the
/// debug function itself runs in place above the frames (then level 1 is the top frame;
/// otherwise level 0 is: another thread's, or the debug function's own frame).
fn with_thread<'gc, R>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    thread: Option<Thread<'gc>>,
    f: impl FnOnce(&mut ThreadState<'gc>, bool) -> R,
) -> R {
    match thread {
        None => {
            let in_place = !call.resumed();
            f(call.thread_state(), in_place)
        }
        Some(t) => f(&mut t.state_mut(ctx.mc), false),
    }
}

/// The frame index of stack level `level` (see `with_thread` for `in_place`).
fn level_index(ts: &ThreadState<'_>, level: i64, in_place: bool) -> Option<usize> {
    let n = ts.frames.len() as i64;
    let i = if in_place { n - level } else { n - 1 - level };
    (i >= 0 && i < n).then_some(i as usize)
}

fn traceback<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (thread, first) = thread_arg(call);
    let msg = call.arg(first);
    if !matches!(
        msg,
        Value::Nil | Value::String(_) | Value::Integer(_) | Value::Float(_)
    ) {
        return call.ret1(msg);
    }
    let default_level = if thread.is_some() { 0 } else { 1 };
    let level = call.opt_integer(ctx, first + 1, default_level)?.max(0) as usize;
    let me = Value::from(call.closure());
    let running = call.thread();
    let text = with_thread(ctx, call, thread, |ts, in_place| {
        let th = thread.unwrap_or(running);
        if in_place {
            if level == 0 {
                interp::traceback(ctx, ts, th, Some(me), 0)
            } else {
                interp::traceback(ctx, ts, th, None, level - 1)
            }
        } else {
            let died_in = ts.raised_by.map(Value::from);
            interp::traceback(ctx, ts, th, died_in, level)
        }
    });
    let mut out = Vec::new();
    if !msg.is_nil() {
        out.extend_from_slice(&interp::tostring_plain(ctx, msg));
        out.push(b'\n');
    }
    out.extend_from_slice(text.as_bytes());
    call.ret1(ctx.str_value(&out))
}

fn sethook<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (thread, first) = thread_arg(call);
    let func = call.arg(first);
    let hook = if func.is_nil() {
        None
    } else {
        call.check_function(ctx, first)?;
        let mask_text = call.check_bytes(ctx, first + 1)?;
        let count = call
            .opt_integer(ctx, first + 2, 0)?
            .clamp(0, u32::MAX as i64) as u32;
        let mut mask = 0;
        for &(c, bit) in &MASK_LETTERS {
            if mask_text.contains(&c) {
                mask |= bit;
            }
        }
        if count > 0 {
            mask |= hook::COUNT;
        }
        (mask != 0).then_some(hook::Hook {
            func,
            mask,
            count,
            left: count,
        })
    };
    with_thread(ctx, call, thread, |ts, _| {
        ts.hooks.hook = hook;
        ts.hooks.at = None;
    });
    if let Value::Table(hooks) = ctx.registry().get_str(ctx.intern(b"_HOOKKEY")) {
        let key = Value::Thread(thread.unwrap_or(call.thread()));
        let value = hook.map_or(Value::Nil, |h| h.func);
        hooks.set(ctx.mc, key, value).ok();
    }
    call.ret0()?;
    if thread.is_none() && hook.is_some_and(|h| h.mask & hook::RETURN != 0) {
        // `sethook` itself returns with the hook on: lua5.4 reports that return.
        return Ok(Action::Hook {
            event: "return",
            then: vm::lib::Cont::new(no_results),
        });
    }
    Ok(Action::Return)
}

/// The letters of a hook mask and the events they stand for.
const MASK_LETTERS: [(u8, u8); 3] = [(b'c', hook::CALL), (b'r', hook::RETURN), (b'l', hook::LINE)];

fn no_results<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    _outcome: vm::lib::Outcome<'gc>,
) -> R<'gc> {
    call.ret0()
}

fn gethook<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (thread, _) = thread_arg(call);
    let hook = with_thread(ctx, call, thread, |ts, _| ts.hooks.hook);
    let Some(h) = hook else {
        return call.ret1(Value::Nil);
    };
    let mut mask = Vec::new();
    for &(c, bit) in &MASK_LETTERS {
        if h.mask & bit != 0 {
            mask.push(c);
        }
    }
    call.ret(&[h.func, ctx.str_value(&mask), Value::Integer(h.count as i64)])
}

fn set<'gc>(ctx: Ctx<'gc>, t: Table<'gc>, key: &str, v: impl Into<Value<'gc>>) {
    t.set_str(ctx.mc, ctx.intern(key.as_bytes()), v.into());
}

fn getinfo<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (thread, first) = thread_arg(call);
    let what = match call.opt_string(ctx, first + 1)? {
        Some(s) => s.as_bytes().to_vec(),
        None => b"flnSrtu".to_vec(),
    };
    if what.iter().any(|c| !b"SlnrutfL".contains(c)) || what.first() == Some(&b'>') {
        return Err(Error::bad_arg(first + 2, "invalid option"));
    }
    let info = ctx.new_table();
    let me = Value::from(call.closure());
    // What we describe: a function, or a frame (its function, its caller for the name).
    let (func, frame): (Value<'gc>, Option<(usize, bool)>) = match call.arg(first) {
        Value::Function(f) => (Value::Function(f), None),
        Value::Integer(_) | Value::Float(_) | Value::String(_) => {
            let level = call.check_integer(ctx, first)?;
            if level == 0 && thread.is_none() && !call.resumed() {
                (me, Some((usize::MAX, true)))
            } else {
                let found = with_thread(ctx, call, thread, |ts, running| {
                    level_index(ts, level, running).map(|i| (frame_function(at(&ts.frames, i)), i))
                });
                match found {
                    Some((f, i)) => (f, Some((i, thread.is_none()))),
                    None => return call.ret1(Value::Nil),
                }
            }
        }
        _ => return Err(call.type_err(ctx, first, "function or level")),
    };
    let lua_proto = match func {
        Value::Function(Function::Lua(c)) => Some(c.proto()),
        _ => None,
    };
    for &c in &what {
        match c {
            b'S' => match lua_proto {
                Some(p) => {
                    let p = &p.plain;
                    set(ctx, info, "source", ctx.str_value(&p.source));
                    set(
                        ctx,
                        info,
                        "short_src",
                        ctx.str_value(chunk_id(&p.source).as_bytes()),
                    );
                    set(ctx, info, "linedefined", p.line_defined as i64);
                    set(ctx, info, "lastlinedefined", p.last_line_defined as i64);
                    let what = if p.line_defined == 0 { "main" } else { "Lua" };
                    set(ctx, info, "what", ctx.str_value(what.as_bytes()));
                }
                None => {
                    set(ctx, info, "source", ctx.str_value(b"=[C]"));
                    set(ctx, info, "short_src", ctx.str_value(b"[C]"));
                    set(ctx, info, "linedefined", -1i64);
                    set(ctx, info, "lastlinedefined", -1i64);
                    set(ctx, info, "what", ctx.str_value(b"C"));
                }
            },
            b'l' => {
                let line = match frame {
                    Some((i, _)) if i != usize::MAX => {
                        with_thread(ctx, call, thread, |ts, _| match at(&ts.frames, i) {
                            Frame::Lua(f) => interp::current_line(f).map_or(-1, |l| l as i64),
                            Frame::Native(_) => -1,
                        })
                    }
                    _ => -1,
                };
                set(ctx, info, "currentline", line);
            }
            b'u' => {
                let (nups, nparams, vararg) = match func {
                    Value::Function(Function::Lua(c)) => {
                        let p = &c.proto().plain;
                        (p.upvalues.len() as i64, p.num_params as i64, p.is_vararg)
                    }
                    Value::Function(Function::Native(n)) => (n.upval_count() as i64, 0, true),
                    _ => (0, 0, true),
                };
                set(ctx, info, "nups", nups);
                set(ctx, info, "nparams", nparams);
                set(ctx, info, "isvararg", vararg);
            }
            b'n' => {
                let site = match frame {
                    Some((usize::MAX, _)) => {
                        let n = call.thread_state().frames.len();
                        n.checked_sub(1)
                            .and_then(|c| interp::call_site_name(ctx, call.thread_state(), c))
                    }
                    Some((i, _)) => {
                        with_thread(ctx, call, thread, |ts, _| interp::frame_name(ctx, ts, i))
                    }
                    None => None,
                };
                if let Some((what, name)) = site {
                    set(ctx, info, "name", ctx.str_value(name.as_bytes()));
                    set(ctx, info, "namewhat", ctx.str_value(what.as_bytes()));
                } else {
                    set(ctx, info, "namewhat", ctx.str_value(b""));
                }
            }
            b't' => {
                let tail = match frame {
                    Some((i, _)) if i != usize::MAX => with_thread(
                        ctx,
                        call,
                        thread,
                        |ts, _| matches!(at(&ts.frames, i), Frame::Lua(f) if f.tail),
                    ),
                    _ => false,
                };
                set(ctx, info, "istailcall", tail);
            }
            b'r' => {
                // Only the frame a call or return event is about has values in transfer.
                let (first, count) = match frame {
                    Some((i, _)) if i != usize::MAX => with_thread(ctx, call, thread, |ts, _| {
                        let hooked = ts.hooks.running && i + 2 == ts.frames.len();
                        if hooked {
                            ts.hooks.transfer
                        } else {
                            (0, 0)
                        }
                    }),
                    _ => (0, 0),
                };
                set(ctx, info, "ftransfer", first as i64);
                set(ctx, info, "ntransfer", count as i64);
            }
            b'f' => set(ctx, info, "func", func),
            b'L' => {
                if let Some(p) = lua_proto {
                    let lines = ctx.new_table();
                    for &l in p.plain.lines.iter() {
                        lines
                            .set(ctx.mc, Value::Integer(l as i64), Value::Boolean(true))
                            .ok();
                    }
                    set(ctx, info, "activelines", lines);
                }
            }
            _ => {}
        }
    }
    call.ret1(Value::from(info))
}

fn frame_function<'gc>(f: &Frame<'gc>) -> Value<'gc> {
    match f {
        Frame::Lua(l) => Value::from(l.closure),
        Frame::Native(n) => Value::from(n.closure),
    }
}

/// The name and stack slot of local `n` of the frame `i` (negative `n`: varargs).
fn local_slot(ts: &ThreadState<'_>, i: usize, n: i64) -> Option<(String, usize)> {
    let f = match at(&ts.frames, i) {
        Frame::Lua(f) => f,
        Frame::Native(nf) => {
            // A native's slots: its arguments and what it keeps above them.
            let limit = match ts.frames.get(i + 1) {
                Some(Frame::Lua(next)) => next.func as usize,
                Some(Frame::Native(next)) => next.base as usize - 1,
                None => ts.stack.len(),
            };
            let slot = (nf.base as usize).checked_add((n as usize).checked_sub(1)?)?;
            return (n >= 1 && slot < limit).then(|| (String::from("(C temporary)"), slot));
        }
    };
    let p = &f.closure.proto().plain;
    if n < 0 {
        let k = (-n) as usize;
        let (base, varargs) = (f.base as usize, f.varargs as usize);
        return (p.is_vararg && k <= varargs)
            .then(|| (String::from("(vararg)"), base - varargs + k - 1));
    }
    let pc = (f.pc as usize).saturating_sub(1);
    let n = n as usize;
    // The n-th local active at `pc`, counted in a plain loop (a filter adapter costs more).
    let mut active = 0;
    for l in p.locals.iter() {
        if (l.start_pc as usize) <= pc && pc < l.end_pc as usize {
            active += 1;
            if active == n {
                return Some((
                    String::from_utf8_lossy(&l.name).into_owned(),
                    f.base as usize + l.reg as usize,
                ));
            }
        }
    }
    // Slots above the named locals, up to where the next frame starts.
    let limit = match ts.frames.get(i + 1) {
        Some(Frame::Lua(next)) => next.func as usize,
        Some(Frame::Native(next)) => next.base as usize - 1,
        None => f.base as usize + p.max_stack as usize,
    };
    let slot = f.base as usize + n - 1;
    (n >= 1 && slot < limit).then(|| (String::from("(temporary)"), slot))
}

fn getlocal<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (thread, first) = thread_arg(call);
    let n = call.check_integer(ctx, first + 1)?;
    if let Value::Function(f) = call.arg(first) {
        // Parameter names of a function that is not running.
        let name = match f {
            Function::Lua(c) => {
                let p = &c.proto().plain;
                p.locals
                    .iter()
                    .filter(|l| l.start_pc == 0)
                    .nth((n - 1).max(0) as usize)
                    .filter(|_| n >= 1 && n <= p.num_params as i64)
                    .map(|l| ctx.str_value(&l.name))
            }
            Function::Native(_) => None,
        };
        return call.ret1(name.unwrap_or(Value::Nil));
    }
    let level = call.check_integer(ctx, first)?;
    if level == 0 && thread.is_none() && !call.resumed() {
        // getlocal itself, running in place: its arguments.
        let v = (n >= 1 && (n as usize) <= call.nargs()).then(|| call.arg(n as usize - 1));
        return match v {
            Some(v) => call.ret(&[ctx.str_value(b"(C temporary)"), v]),
            None => call.ret1(Value::Nil),
        };
    }
    let found = with_thread(ctx, call, thread, |ts, running| {
        let i = level_index(ts, level, running)?;
        Some(
            local_slot(ts, i, n)
                .map(|(name, slot)| (name, ts.stack.get(slot).copied().unwrap_or_default())),
        )
    });
    match found {
        None => Err(Error::bad_arg(first + 1, "level out of range")),
        Some(None) => call.ret1(Value::Nil),
        Some(Some((name, v))) => call.ret(&[ctx.str_value(name.as_bytes()), v]),
    }
}

fn setlocal<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (thread, first) = thread_arg(call);
    let level = call.check_integer(ctx, first)?;
    let n = call.check_integer(ctx, first + 1)?;
    let v = call.check_any(ctx, first + 2)?;
    let found = with_thread(ctx, call, thread, |ts, running| {
        let i = level_index(ts, level, running)?;
        Some(local_slot(ts, i, n).map(|(name, slot)| {
            if let Some(s) = ts.stack.get_mut(slot) {
                *s = v;
            }
            name
        }))
    });
    match found {
        None => Err(Error::bad_arg(first + 1, "level out of range")),
        Some(None) => call.ret1(Value::Nil),
        Some(Some(name)) => call.ret1(ctx.str_value(name.as_bytes())),
    }
}

/// The upvalue `n` (1-based) of a function: its name and the upvalue (Lua) or value (native).
enum UpvalRef<'gc> {
    Lua(String, Upval<'gc>),
    Native(usize),
}

fn upvalue_ref<'gc>(f: Function<'gc>, n: i64) -> Option<UpvalRef<'gc>> {
    if n < 1 {
        return None;
    }
    let i = (n - 1) as usize;
    match f {
        Function::Lua(c) => {
            let u = *c.upvals().get(i)?;
            let name = match c.proto().plain.upvalues.get(i) {
                Some(d) if !d.name.is_empty() => String::from_utf8_lossy(&d.name).into_owned(),
                _ => String::from("(no name)"),
            };
            Some(UpvalRef::Lua(name, u))
        }
        Function::Native(nc) => (i < nc.upval_count()).then_some(UpvalRef::Native(i)),
    }
}

fn read_upval<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, u: Upval<'gc>) -> Value<'gc> {
    match u.state() {
        UpvalState::Closed(v) => v,
        UpvalState::Open { thread, index } => {
            if thread == call.thread() {
                *at(&call.thread_state().stack, index)
            } else {
                let _ = ctx;
                *at(&thread.state().stack, index)
            }
        }
    }
}

fn getupvalue<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let f = call.check_function(ctx, 0)?;
    let n = call.check_integer(ctx, 1)?;
    match upvalue_ref(f, n) {
        Some(UpvalRef::Lua(name, u)) => {
            let v = read_upval(ctx, call, u);
            call.ret(&[ctx.str_value(name.as_bytes()), v])
        }
        Some(UpvalRef::Native(i)) => {
            let Function::Native(nc) = f else {
                bug() // native upvalue
            };
            let v = nc.upval(i);
            call.ret(&[ctx.str_value(b""), v])
        }
        None => call.ret1(Value::Nil),
    }
}

fn setupvalue<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let f = call.check_function(ctx, 0)?;
    let n = call.check_integer(ctx, 1)?;
    let v = call.check_any(ctx, 2)?;
    match upvalue_ref(f, n) {
        Some(UpvalRef::Lua(name, u)) => {
            let state = u.state();
            match state {
                UpvalState::Closed(_) => u.close_with(ctx.mc, v),
                UpvalState::Open { thread, index } => {
                    if thread == call.thread() {
                        *at_mut(&mut call.thread_state().stack, index) = v;
                    } else {
                        *at_mut(&mut thread.state_mut(ctx.mc).stack, index) = v;
                    }
                }
            }
            call.ret1(ctx.str_value(name.as_bytes()))
        }
        Some(UpvalRef::Native(i)) => {
            let Function::Native(nc) = f else {
                bug() // native upvalue
            };
            nc.set_upval(ctx.mc, i, v);
            call.ret1(ctx.str_value(b""))
        }
        None => call.ret1(Value::Nil),
    }
}

fn upvalueid<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let f = call.check_function(ctx, 0)?;
    let n = call.check_integer(ctx, 1)?;
    match upvalue_ref(f, n) {
        Some(UpvalRef::Lua(_, u)) => call.ret1(Value::LightUserData(u.addr())),
        Some(UpvalRef::Native(i)) => call.ret1(Value::LightUserData(f.addr() + i + 1)),
        None => call.ret1(Value::Nil),
    }
}

fn upvaluejoin<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let lua_fn = |call: &NativeCall<'_, 'gc>, i: usize| match call.arg(i) {
        Value::Function(Function::Lua(c)) => Ok(c),
        _ => Err(Error::bad_arg(i + 1, "Lua function expected")),
    };
    let f1 = lua_fn(call, 0)?;
    let n1 = call.check_integer(ctx, 1)?;
    let f2 = lua_fn(call, 2)?;
    let n2 = call.check_integer(ctx, 3)?;
    let Some(UpvalRef::Lua(_, u2)) = upvalue_ref(Function::Lua(f2), n2) else {
        return Err(Error::bad_arg(4, "invalid upvalue index"));
    };
    if upvalue_ref(Function::Lua(f1), n1).is_none() {
        return Err(Error::bad_arg(2, "invalid upvalue index"));
    }
    if !f1.set_upval(ctx.mc, (n1 - 1) as usize, u2) {
        return Err(Error::runtime("cannot join upvalues of a running function"));
    }
    call.ret0()
}

fn getmetatable<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.check_any(ctx, 0)?;
    match interp::metatable_of(ctx, v) {
        // Every external table shares one metatable: a script gets a copy, so what it does
        // with it cannot change how the other external tables behave.
        Some(mt) if matches!(v, Value::Table(t) if t.external_id().is_some()) => {
            let copy = Table::new(ctx.mc);
            let mut key = Value::Nil;
            while let Ok(Some((k, field))) = mt.next(key) {
                let _ = copy.set(ctx.mc, k, field);
                key = k;
            }
            call.ret1(Value::from(copy))
        }
        Some(mt) => call.ret1(Value::from(mt)),
        None => call.ret1(Value::Nil),
    }
}

fn setmetatable<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let v = call.arg(0);
    let mt = match call.arg(1) {
        Value::Nil => None,
        Value::Table(t) => Some(t),
        _ => return Err(call.type_err(ctx, 1, "nil or table")),
    };
    match v {
        Value::Table(t) if t.external_id().is_some() => {
            return Err(Error::runtime(
                "cannot change the metatable of an external table",
            ));
        }
        Value::Table(t) => t.set_metatable(ctx.mc, mt),
        Value::UserData(u) => u.set_metatable(ctx.mc, mt),
        other => ctx.set_type_metatable(other.type_of(), mt),
    }
    vm::lib::note_metatable(ctx, v, mt);
    call.ret1(v)
}

fn getregistry<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.ret1(Value::from(ctx.registry()))
}

fn getuservalue<'gc>(_ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.ret(&[Value::Nil, Value::Boolean(false)])
}

fn setuservalue<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match call.arg(0) {
        Value::UserData(_) => {
            call.check_any(ctx, 1)?;
            call.ret1(Value::Nil)
        }
        _ => Err(call.type_err(ctx, 0, "userdata")),
    }
}

fn setcstacklimit<'gc>(_ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    call.ret1(Value::from(0i64))
}
