//! Calls and returns: frames for Lua functions, native functions run in place, the actions
//! natives hand back, and where results go.

use crate::checked::{at, at_mut};
use crate::function::{LuaClosure, NativeClosure};
use crate::state::Ctx;
use crate::thread::{Closing, Frame, LuaFrame, NativeFrame, Pending, RetMode, Thread, ThreadState};
use crate::value::{Function, Value};

use super::describe::Src;
use super::exec::execute;
use super::meta::{self, metamethod, MetaEvent, MAX_TAG_LOOP};
use super::native::{Action, Catch, Cont, Error, NativeCall, Outcome};
use super::unwind::{self, error_to_value, Caller};

/// Why a run of a thread stopped.
pub(crate) enum Exit<'gc> {
    /// The fuel ran out; running again continues.
    Fuel,
    /// Enough was allocated that the collector should run before going on.
    Collect,
    /// The thread's bottom call returned; its results are the whole stack.
    Finished,
    /// The thread yields `stack[from..]`.
    Yield { from: usize },
    /// The thread asks to resume `thread` with `stack[from..]`.
    Resume { thread: Thread<'gc>, from: usize },
    /// The thread asks to close the coroutine `thread`.
    Close { thread: Thread<'gc> },
    /// An error no frame of this thread catches.
    Error(Value<'gc>),
}

/// What the interpreter does after a call was set up or completed.
pub(crate) enum Flow<'gc> {
    /// Go on with whatever frame is on top now.
    Continue,
    Exit(Exit<'gc>),
}

/// Runs `thread` until it finishes, yields, resumes another, fails or runs out of fuel.
pub(crate) fn run<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    fuel: &mut i64,
) -> Exit<'gc> {
    if ts.closing == Closing::Requested {
        ts.closing = Closing::Running;
        let error = ts.error;
        if let Flow::Exit(exit) = unwind::close_thread(ctx, thread, ts, error) {
            return exit;
        }
    } else if ts.frames.is_empty() && !ts.stack.is_empty() {
        // A thread that has not started: call its function with the values after it.
        let nargs = ts.stack.len() - 1;
        let ret = RetMode::Normal { want: -1 };
        match call_value(ctx, thread, ts, 0, nargs, ret, Src::None, false) {
            Ok(Flow::Continue) => {}
            Ok(Flow::Exit(exit)) => return exit,
            Err(e) => {
                let v = error_to_value(ctx, ts, e, Caller::Top, None);
                if let Flow::Exit(exit) = unwind::raise(ctx, thread, ts, v) {
                    return exit;
                }
            }
        }
    }
    loop {
        let err = match execute(ctx, thread, ts, fuel) {
            Ok(exit) => return exit,
            Err(err) => err,
        };
        match unwind::raise(ctx, thread, ts, err) {
            Flow::Continue => {}
            Flow::Exit(exit) => return exit,
        }
    }
}

/// Room beyond the limits for handling a stack overflow.
const OVERFLOW_SLOTS: usize = 5_000;
const OVERFLOW_FRAMES: usize = 200;

/// Raises `error` in a thread stopped between instructions; `Some` when that ended it (no
/// catcher), `None` when a catcher took it and the thread goes on.
pub(crate) fn raise_in<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    error: Value<'gc>,
) -> Option<Exit<'gc>> {
    match unwind::raise(ctx, thread, ts, error) {
        Flow::Continue => None,
        Flow::Exit(exit) => Some(exit),
    }
}

/// Most frames a thread may have: deeper recursion is "stack overflow".
pub(crate) const MAX_FRAMES: usize = 200_000;

/// Pushes a frame for a Lua function in `stack[func]` with `nargs` arguments after it.
#[inline]
pub(super) fn push_lua_frame<'gc>(
    ctx: Ctx<'gc>,
    ts: &mut ThreadState<'gc>,
    closure: LuaClosure<'gc>,
    func: usize,
    nargs: usize,
    ret: RetMode,
    tail: bool,
) -> Result<(), Error<'gc>> {
    let p = &closure.0.proto.plain;
    let nparams = p.num_params as usize;
    let (base, varargs) = if p.is_vararg {
        // Fixed parameters move above the actual arguments; the extra ones stay below the
        // new base as the varargs.
        let base = func + 1 + nargs;
        (base, nargs.saturating_sub(nparams))
    } else {
        (func + 1, 0)
    };
    let need = base + p.max_stack as usize;
    let (slots, frames) = if ts.overflowed {
        // After a stack overflow the message handler and `__close` get some room, as
        // lua5.4 gives them; overflowing that too is an error in error handling.
        (
            ctx.max_stack() + OVERFLOW_SLOTS,
            MAX_FRAMES + OVERFLOW_FRAMES,
        )
    } else {
        (ctx.max_stack(), MAX_FRAMES)
    };
    if need > slots || ts.frames.len() >= frames {
        if ts.overflowed {
            return Err(Error::Value(ctx.str_value(b"error in error handling")));
        }
        ts.overflowed = true;
        return Err(Error::runtime("stack overflow"));
    }
    if ts.stack.len() < need {
        ts.stack.resize(need, Value::Nil);
    }
    if p.is_vararg {
        for i in 0..nparams {
            *at_mut(&mut ts.stack, base + i) = if i < nargs {
                *at(&ts.stack, func + 1 + i)
            } else {
                Value::Nil
            };
        }
    } else {
        for slot in at_mut(&mut ts.stack, base + nargs.min(nparams)..base + nparams) {
            *slot = Value::Nil;
        }
    }
    ts.frames.push(Frame::Lua(LuaFrame {
        closure,
        base: base as u32,
        pc: 0,
        func: func as u32,
        varargs: varargs as u32,
        top: base as u32,
        ret,
        tail,
    }));
    Ok(())
}

/// Calls `stack[func]` with the `nargs` values after it; results go by `ret`.
#[allow(clippy::too_many_arguments)]
pub(super) fn call_value<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    func: usize,
    mut nargs: usize,
    ret: RetMode,
    src: Src,
    tail: bool,
) -> Result<Flow<'gc>, Error<'gc>> {
    for _ in 0..MAX_TAG_LOOP {
        match *at(&ts.stack, func) {
            Value::Function(Function::Lua(c)) => {
                push_lua_frame(ctx, ts, c, func, nargs, ret, tail)?;
                return Ok(Flow::Continue);
            }
            Value::Function(Function::Native(n)) => {
                ts.stack.truncate(func + 1 + nargs);
                return call_native(ctx, thread, ts, n, func, ret);
            }
            other => {
                let tm = metamethod(ctx, other, MetaEvent::Call);
                if tm.is_nil() {
                    return Err(call_error(ctx, ts, other, src));
                }
                ts.stack.truncate(func + 1 + nargs);
                ts.stack.insert(func, tm);
                nargs += 1;
            }
        }
    }
    Err(Error::runtime("'__call' chain too long; possible loop"))
}

/// `attempt to call a nil value (global 'f')`: named the way the calling instruction names
/// the function (`metamethod 'add'` for a metamethod that is not callable).
pub(super) fn call_error<'gc>(
    ctx: Ctx<'gc>,
    ts: &ThreadState<'gc>,
    f: Value<'gc>,
    src: Src,
) -> Error<'gc> {
    let site = match src {
        Src::None => ts
            .frames
            .len()
            .checked_sub(1)
            .and_then(|top| super::describe::call_site_name(ctx, ts, top)),
        _ => None,
    };
    match site {
        Some((what, name)) => Error::runtime(alloc::format!(
            "attempt to call a {} value ({what} '{name}')",
            super::native::type_name_for_message(ctx, f)
        )),
        None => meta::type_error(ctx, ts, f, "call", src, Value::Nil),
    }
}

/// Calls `f(args)` above the running frame's registers; results go by `ret`.
pub(super) fn call_at_top<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    f: Value<'gc>,
    args: &[Value<'gc>],
    ret: RetMode,
) -> Result<Flow<'gc>, Error<'gc>> {
    let func = scratch_top(ts);
    ts.stack.resize(func, Value::Nil);
    ts.stack.push(f);
    ts.stack.extend_from_slice(args);
    call_value(ctx, thread, ts, func, args.len(), ret, Src::None, false)
}

/// The first free slot above the running frame.
pub(super) fn scratch_top(ts: &ThreadState<'_>) -> usize {
    match ts.frames.last() {
        Some(Frame::Lua(f)) => {
            (f.base as usize + f.closure.0.proto.plain.max_stack as usize).max(f.top as usize)
        }
        _ => ts.stack.len(),
    }
}

/// Runs a native function in place; it was called from the frame on top (or from nothing).
pub(super) fn call_native<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    closure: NativeClosure<'gc>,
    func: usize,
    ret: RetMode,
) -> Result<Flow<'gc>, Error<'gc>> {
    if ts.native_depth >= MAX_NATIVE_DEPTH {
        return Err(Error::runtime("C stack overflow"));
    }
    ts.native_depth += 1;
    let result = call_native_counted(ctx, thread, ts, closure, func, ret);
    ts.native_depth -= 1;
    result
}

/// Natives calling natives recurse on the Rust stack; this many is "C stack overflow".
const MAX_NATIVE_DEPTH: u32 = 198;

fn call_native_counted<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    closure: NativeClosure<'gc>,
    func: usize,
    ret: RetMode,
) -> Result<Flow<'gc>, Error<'gc>> {
    let base = func + 1;
    if super::hook::wants_native_events(ts) {
        return call_native_hooked(ctx, thread, ts, closure, base, ret);
    }
    let mut call = NativeCall {
        th: ts,
        base,
        closure,
        thread,
        resumed: false,
        state: 0,
    };
    let action = match (closure.0.f)(ctx, &mut call) {
        Ok(action) => action,
        Err(e) => {
            ts.raised_by = Some(closure);
            return Err(Error::Value(error_to_value(
                ctx,
                ts,
                e,
                Caller::Top,
                Some(closure),
            )));
        }
    };
    handle_action(ctx, thread, ts, closure, base, ret, action, false)
}

/// A native called while a hook wants call or return events: it gets a frame, the call
/// event is delivered, and the native runs as that frame's continuation.
fn call_native_hooked<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    closure: NativeClosure<'gc>,
    base: usize,
    ret: RetMode,
) -> Result<Flow<'gc>, Error<'gc>> {
    ts.frames.push(Frame::Native(NativeFrame {
        closure,
        base: base as u32,
        cont: Cont::yieldable(hooked_native_start, Catch::No),
        ret,
    }));
    let nargs = (ts.stack.len() - base) as u32;
    match super::hook::native_event(ctx, thread, ts, "call", nargs)? {
        Some(flow) => Ok(flow),
        None => {
            ts.pending = Pending::Returned { at: ts.stack.len() };
            Ok(Flow::Continue)
        }
    }
}

/// The call event was delivered: run the native itself, then deliver its return event.
fn hooked_native_start<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    if let Outcome::Returned { at } = outcome {
        // Drop what the hook left above the arguments.
        let end = call.base + at;
        call.th.stack.truncate(end);
    }
    match (call.closure.0.f)(ctx, call)? {
        Action::Return => hooked_native_return(call),
        // A continuation with state is the native's own (an `io` read waiting for input,
        // to read again): it goes on after the wait.
        Action::Yield { at, then } if then.state != 0 => Ok(Action::Yield { at, then }),
        // A yield returns when the coroutine is resumed: the event comes then.
        Action::Yield { at, .. } => Ok(Action::Yield {
            at,
            then: Cont::yieldable(hooked_native_resumed, Catch::No),
        }),
        action => Ok(action),
    }
}

fn hooked_native_resumed<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    match outcome {
        Outcome::Returned { at } => {
            call.ret_from(at)?;
            hooked_native_return(call)
        }
        Outcome::Raised(e) => Err(Error::Value(e)),
    }
}

/// The native returned its results: deliver the return event, keeping them.
fn hooked_native_return<'gc>(call: &mut NativeCall<'_, 'gc>) -> Result<Action<'gc>, Error<'gc>> {
    let n = call.nargs();
    Ok(Action::Hook {
        event: "return",
        then: Cont::with_state(hooked_native_end, n as i64),
    })
}

/// The return event was delivered: the native's results (kept below the hook call) are
/// its results.
fn hooked_native_end<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    _outcome: Outcome<'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    let n = call.state() as usize;
    call.set_nargs(n);
    Ok(Action::Return)
}

/// Runs the continuation of the native frame on top, whose awaited call has ended.
pub(super) fn resume_native<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
) -> Result<Flow<'gc>, Error<'gc>> {
    let Some(Frame::Native(nf)) = ts.frames.last().copied() else {
        return Ok(Flow::Continue);
    };
    let outcome = match core::mem::replace(&mut ts.pending, Pending::Waiting) {
        Pending::Waiting => {
            // Nothing to continue with: only a bug could get here; fail loudly in Lua terms.
            return Err(Error::runtime("native frame resumed without a result"));
        }
        Pending::Returned { at } => Outcome::Returned {
            at: at - nf.base as usize,
        },
        Pending::Raised(v) => Outcome::Raised(v),
    };
    let mut call = NativeCall {
        th: ts,
        base: nf.base as usize,
        closure: nf.closure,
        thread,
        resumed: true,
        state: nf.cont.state,
    };
    let action = match (nf.cont.f)(ctx, &mut call, outcome) {
        Ok(action) => action,
        Err(e) => {
            return Err(Error::Value(error_to_value(
                ctx,
                ts,
                e,
                Caller::BelowTop,
                Some(nf.closure),
            )))
        }
    };
    handle_action(
        ctx,
        thread,
        ts,
        nf.closure,
        nf.base as usize,
        nf.ret,
        action,
        true,
    )
}

/// Carries out what a native asked for. `framed`: the native's frame is on top.
#[allow(clippy::too_many_arguments)]
fn handle_action<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    closure: NativeClosure<'gc>,
    base: usize,
    ret: RetMode,
    action: Action<'gc>,
    framed: bool,
) -> Result<Flow<'gc>, Error<'gc>> {
    let wait = |ts: &mut ThreadState<'gc>, cont: Cont| {
        let frame = Frame::Native(NativeFrame {
            closure,
            base: base as u32,
            cont,
            ret,
        });
        if framed {
            *ts.frames.last_mut().expect("native frame") = frame;
        } else {
            ts.frames.push(frame);
        }
    };
    match action {
        Action::Return => {
            if framed {
                ts.frames.pop();
            }
            let n = ts.stack.len() - base;
            finish_call(ctx, thread, ts, ret, base - 1, base, n)
        }
        Action::Call { at, then } => {
            if ts.frames.len() >= MAX_FRAMES {
                return Err(Error::Value(error_to_value(
                    ctx,
                    ts,
                    Error::runtime("stack overflow"),
                    if framed {
                        Caller::BelowTop
                    } else {
                        Caller::Top
                    },
                    Some(closure),
                )));
            }
            wait(ts, then);
            let func = base + at;
            let nargs = ts.stack.len() - func - 1;
            call_value(
                ctx,
                thread,
                ts,
                func,
                nargs,
                RetMode::Normal { want: -1 },
                Src::None,
                false,
            )
        }
        Action::TailCall { at } => {
            if framed {
                ts.frames.pop();
            }
            let func = base - 1;
            ts.stack.drain(func..base + at);
            let nargs = ts.stack.len() - func - 1;
            call_value(ctx, thread, ts, func, nargs, ret, Src::None, true)
        }
        Action::Yield { at, then } => {
            wait(ts, then);
            Ok(Flow::Exit(Exit::Yield { from: base + at }))
        }
        Action::Resume {
            thread: co,
            at,
            then,
        } => {
            wait(ts, then);
            Ok(Flow::Exit(Exit::Resume {
                thread: co,
                from: base + at,
            }))
        }
        Action::Close { thread: co, then } => {
            wait(ts, then);
            Ok(Flow::Exit(Exit::Close { thread: co }))
        }
        Action::Pause { then } => {
            wait(ts, then);
            ts.pending = Pending::Returned { at: ts.stack.len() };
            Ok(Flow::Continue)
        }
        Action::Hook { event, then } => {
            wait(ts, then);
            let values = (ts.stack.len() - base) as u32;
            match super::hook::native_event(ctx, thread, ts, event, values)? {
                Some(flow) => Ok(flow),
                None => {
                    ts.pending = Pending::Returned { at: ts.stack.len() };
                    Ok(Flow::Continue)
                }
            }
        }
    }
}

/// The continuation of a yield: the values it is resumed with are its results.
pub(super) fn return_all<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    match outcome {
        Outcome::Returned { at } => call.ret_from(at),
        Outcome::Raised(v) => Err(Error::Value(v)),
    }
}

/// Delivers the `n` results at `stack[src..]` of a call whose function slot was `func`.
pub(super) fn finish_call<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    ret: RetMode,
    func: usize,
    src: usize,
    n: usize,
) -> Result<Flow<'gc>, Error<'gc>> {
    let first = if n > 0 {
        *at(&ts.stack, src)
    } else {
        Value::Nil
    };
    if ts.hooks.hook.is_some() {
        super::hook::returned_to(ts);
    }
    match ret {
        RetMode::Normal { want } => {
            if src != func {
                ts.stack.copy_within(src..src + n, func);
            }
            match ts.frames.last_mut() {
                Some(Frame::Lua(caller)) => {
                    let caller_need =
                        caller.base as usize + caller.closure.0.proto.plain.max_stack as usize;
                    if want < 0 {
                        caller.top = (func + n) as u32;
                        let len = (func + n).max(caller_need);
                        ts.stack.resize(len, Value::Nil);
                    } else {
                        let want = want as usize;
                        let len = (func + want).max(caller_need);
                        if ts.stack.len() < len {
                            ts.stack.resize(len, Value::Nil);
                        }
                        for slot in at_mut(&mut ts.stack, func + n.min(want)..func + want) {
                            *slot = Value::Nil;
                        }
                    }
                    Ok(Flow::Continue)
                }
                Some(Frame::Native(_)) => {
                    ts.stack.truncate(func + n);
                    ts.pending = Pending::Returned { at: func };
                    Ok(Flow::Continue)
                }
                None => {
                    ts.stack.truncate(func + n);
                    Ok(Flow::Exit(Exit::Finished))
                }
            }
        }
        RetMode::Single { dest } => {
            restore_caller_stack(ts);
            *at_mut(&mut ts.stack, dest as usize) = first;
            Ok(Flow::Continue)
        }
        RetMode::Cond { k, off } => {
            restore_caller_stack(ts);
            if first.is_truthy() == k {
                if let Some(Frame::Lua(caller)) = ts.frames.last_mut() {
                    caller.pc = (caller.pc as i64 + off as i64) as u32;
                }
            }
            Ok(Flow::Continue)
        }
        RetMode::Discard => {
            restore_caller_stack(ts);
            Ok(Flow::Continue)
        }
        RetMode::Hook => {
            restore_caller_stack(ts);
            super::hook::hook_returned(ts, func);
            Ok(Flow::Continue)
        }
        RetMode::Reexecute => {
            restore_caller_stack(ts);
            if let Some(Frame::Lua(caller)) = ts.frames.last_mut() {
                caller.pc -= 1;
            }
            Ok(Flow::Continue)
        }
        RetMode::Concat {
            first: start,
            n: count,
        } => {
            restore_caller_stack(ts);
            let (start, count) = (start as usize, count as usize);
            *at_mut(&mut ts.stack, start + count - 2) = first;
            meta::concat(ctx, thread, ts, start, count - 1)
        }
        RetMode::Unwind { slot } => {
            let error = *at(&ts.stack, slot as usize);
            restore_caller_stack(ts);
            Ok(unwind::continue_unwind(ctx, thread, ts, error))
        }
        RetMode::Handler => Ok(unwind::handled(ctx, thread, ts, first)),
    }
}

/// After a native call (which shrinks the stack to its arguments), gives the Lua frame on
/// top its registers back.
fn restore_caller_stack(ts: &mut ThreadState<'_>) {
    if let Some(Frame::Lua(f)) = ts.frames.last() {
        let need = f.base as usize + f.closure.0.proto.plain.max_stack as usize;
        if ts.stack.len() < need {
            ts.stack.resize(need, Value::Nil);
        }
    }
}

/// Calls the `__gc` of `obj` above the running Lua frame. A catching native frame below the
/// call turns its errors into warnings; it returns to the interrupted code.
pub(crate) fn call_finalizer<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    obj: Value<'gc>,
) {
    let f = metamethod(ctx, obj, MetaEvent::Gc);
    ts.finalizing = true;
    let guard = NativeClosure::new(ctx.mc, "__gc", finalizer_guard);
    let at = scratch_top(ts);
    ts.stack.resize(at, Value::Nil);
    ts.stack.push(Value::from(guard));
    let base = at + 1;
    ts.frames.push(Frame::Native(NativeFrame {
        closure: guard,
        base: base as u32,
        cont: Cont {
            f: finalizer_done,
            catch: Catch::Yes,
            yieldable: false,
            state: 0,
        },
        ret: RetMode::Discard,
    }));
    ts.stack.push(f);
    ts.stack.push(obj);
    let ret = RetMode::Normal { want: 0 };
    if let Err(e) = call_value(ctx, thread, ts, base, 1, ret, Src::None, false) {
        let v = error_to_value(ctx, ts, e, Caller::Top, None);
        ts.pending = Pending::Raised(v);
    }
}

/// Whether a native frame is the one that runs a finalizer.
pub(crate) fn is_finalizer_guard(closure: NativeClosure<'_>) -> bool {
    closure.is(finalizer_guard)
}

fn finalizer_guard<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    call.ret0()
}

fn finalizer_done<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    call.thread_state().finalizing = false;
    if let Outcome::Raised(e) = outcome {
        let msg = match e {
            Value::String(s) => s.as_bytes().to_vec(),
            _ => b"error object is not a string".to_vec(),
        };
        let mut text = b"error in __gc (".to_vec();
        text.extend_from_slice(&msg);
        text.push(b')');
        ctx.warn(&text, false);
    }
    call.ret0()
}
