//! Raising errors: locating messages, calling `xpcall` handlers, closing to-be-closed
//! variables while unwinding, and handing the error to the `pcall` that catches it.

use alloc::format;
use alloc::string::String;

use crate::checked::at;
use crate::function::NativeClosure;
use crate::state::Ctx;
use crate::thread::{Closing, Frame, Pending, RetMode, Thread, ThreadState};
use crate::value::Value;

use super::call::{call_at_top, Exit, Flow};
use super::describe::Src;
use super::describe::{call_site_name, current_line, global_function_name, traceback};
use super::meta::{metamethod, MetaEvent};
use super::native::{Catch, Error};

/// Which frame called the code that failed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The frame on top (an instruction failed, or a native running in place).
    Top,
    /// The frame below the top (a native running as a continuation in its own frame).
    BelowTop,
}

/// How many times an `xpcall` handler is re-entered for errors inside itself before the
/// error becomes "error in error handling" (like the C stack limit in lua5.4).
const MAX_HANDLER_DEPTH: usize = 20;

/// `chunk:line:` for the Lua function at `frames[index]`, or nothing for a native.
pub(crate) fn location(ts: &ThreadState<'_>, index: Option<usize>) -> String {
    match index.and_then(|i| ts.frames.get(i)) {
        Some(Frame::Lua(f)) => {
            let p = &f.closure.0.proto.plain;
            match current_line(f) {
                Some(line) => format!("{}:{}: ", crate::proto::chunk_id(&p.source), line),
                None => format!("{}:-1: ", crate::proto::chunk_id(&p.source)),
            }
        }
        _ => String::new(),
    }
}

fn caller_index(ts: &ThreadState<'_>, caller: Caller) -> Option<usize> {
    let n = ts.frames.len();
    match caller {
        Caller::Top => n.checked_sub(1),
        Caller::BelowTop => n.checked_sub(2),
    }
}

/// The value an error raises: messages get their position, bad arguments their function's
/// name as the call site knows it.
pub(crate) fn error_to_value<'gc>(
    ctx: Ctx<'gc>,
    ts: &ThreadState<'gc>,
    e: Error<'gc>,
    caller: Caller,
    native: Option<NativeClosure<'gc>>,
) -> Value<'gc> {
    let index = caller_index(ts, caller);
    let msg = match e {
        Error::Value(v) => return v,
        Error::Runtime(msg) => format!("{}{}", location(ts, index), msg),
        Error::BadArg { mut arg, msg } => {
            let site = index.and_then(|i| call_site_name(ctx, ts, i));
            let is_method = matches!(&site, Some((what, _)) if *what == "method");
            let name = match site {
                Some((_, name)) => name,
                None => native
                    .and_then(|n| global_function_name(ctx, Value::from(n)))
                    .unwrap_or_else(|| String::from("?")),
            };
            if is_method {
                arg -= 1;
                if arg == 0 {
                    let m = format!("calling '{name}' on bad self ({msg})");
                    return ctx.str_value(format!("{}{}", location(ts, index), m).as_bytes());
                }
            }
            format!(
                "{}bad argument #{arg} to '{name}' ({msg})",
                location(ts, index)
            )
        }
    };
    ctx.str_value(msg.as_bytes())
}

/// The frame that catches errors raised now: the topmost native frame waiting with a
/// catching continuation.
fn catcher(ts: &ThreadState<'_>) -> Option<usize> {
    ts.frames.iter().rposition(|f| match f {
        Frame::Native(n) => n.cont.catch != Catch::No,
        Frame::Lua(_) => false,
    })
}

/// Raises `error` in the running thread.
pub(crate) fn raise<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    error: Value<'gc>,
) -> Flow<'gc> {
    let raised_by = ts.raised_by.take();
    let Some(ci) = catcher(ts) else {
        // A coroutine dying of it keeps it for `debug.traceback`.
        ts.raised_by = raised_by;
        if ts.closing == Closing::Running {
            // An error in a `__close` while closing a coroutine replaces the error.
            return unwind_to(ctx, thread, ts, None, error);
        }
        if thread == ctx.main_thread() {
            ts.raised_by = None;
            let tb = traceback(ctx, ts, thread, raised_by.map(Value::from), 0);
            ctx.set_traceback(tb);
            return unwind_to(ctx, thread, ts, None, error);
        }
        return Flow::Exit(Exit::Error(error));
    };
    let Frame::Native(nf) = ts.frames[ci] else {
        unreachable!("catcher is a native frame")
    };
    if let Catch::WithHandler { handler } = nf.cont.catch {
        // Handlers that fail are called again for their own errors, to a limit; native
        // handlers have no frame to count, hence `ts.handling`.
        let depth = ts.handling as usize
            + ts.frames[ci..]
                .iter()
                .filter(|f| matches!(frame_ret(f), RetMode::Handler))
                .count();
        if depth >= MAX_HANDLER_DEPTH {
            let e = ctx.str_value(b"error in error handling");
            return unwind_to(ctx, thread, ts, Some(ci), e);
        }
        let h = *at(&ts.stack, nf.base as usize + handler as usize);
        ts.handling += 1;
        let flow = match call_at_top(ctx, thread, ts, h, &[error], RetMode::Handler) {
            Ok(flow) => flow,
            Err(e) => {
                let v = error_to_value(ctx, ts, e, Caller::Top, None);
                raise(ctx, thread, ts, v)
            }
        };
        ts.handling -= 1;
        return flow;
    }
    unwind_to(ctx, thread, ts, Some(ci), error)
}

fn frame_ret(f: &Frame<'_>) -> RetMode {
    match f {
        Frame::Lua(l) => l.ret,
        Frame::Native(n) => n.ret,
    }
}

/// An `xpcall` handler returned `value`: finish unwinding with it as the error.
pub(crate) fn handled<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    value: Value<'gc>,
) -> Flow<'gc> {
    let ci = catcher(ts);
    unwind_to(ctx, thread, ts, ci, value)
}

/// A `__close` called while unwinding returned: go on unwinding with the same error.
pub(crate) fn continue_unwind<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    error: Value<'gc>,
) -> Flow<'gc> {
    let ci = catcher(ts);
    if ci.is_none() && thread != ctx.main_thread() && ts.closing != Closing::Running {
        return Flow::Exit(Exit::Error(error));
    }
    unwind_to(ctx, thread, ts, ci, error)
}

/// Closes every pending to-be-closed variable of a coroutine (`coroutine.close`); the
/// thread then finishes with `error` (nil if all went well) in `ts.error`.
pub(crate) fn close_thread<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    error: Value<'gc>,
) -> Flow<'gc> {
    unwind_to(ctx, thread, ts, None, error)
}

/// Drops the frames above the catcher `ci` (the whole stack for `None`), closing upvalues
/// and calling the `__close` of each to-be-closed variable on the way, then hands the error
/// to the catcher.
fn unwind_to<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    ci: Option<usize>,
    error: Value<'gc>,
) -> Flow<'gc> {
    let region = match ci {
        Some(i) => match ts.frames[i] {
            Frame::Native(n) => n.base as usize,
            Frame::Lua(_) => unreachable!("catcher is a native frame"),
        },
        None => 0,
    };
    ts.frames.truncate(ci.map_or(0, |i| i + 1));
    ts.overflowed = false;
    ts.close_upvals(ctx.mc, region);
    while let Some(&idx) = ts.tbc.last() {
        if idx < region {
            break;
        }
        ts.tbc.pop();
        let v = ts.stack.get(idx).copied().unwrap_or_default();
        let tm = metamethod(ctx, v, MetaEvent::Close);
        if tm.is_nil() {
            continue;
        }
        // The error waits in the slot below the call while `__close` runs.
        let slot = super::call::scratch_top(ts);
        ts.stack.resize(slot, Value::Nil);
        ts.stack.extend_from_slice(&[error, tm, v, error]);
        let ret = RetMode::Unwind { slot: slot as u32 };
        return match super::call::call_value(ctx, thread, ts, slot + 1, 2, ret, Src::None, false) {
            Ok(flow) => flow,
            Err(e) => {
                let v = error_to_value(ctx, ts, e, Caller::Top, None);
                continue_unwind(ctx, thread, ts, v)
            }
        };
    }
    match ci {
        Some(_) => {
            ts.pending = Pending::Raised(error);
            ts.stack.truncate(region);
            Flow::Continue
        }
        None => {
            ts.stack.clear();
            if ts.closing == Closing::Running {
                ts.error = error;
                return Flow::Exit(Exit::Finished);
            }
            Flow::Exit(Exit::Error(error))
        }
    }
}
