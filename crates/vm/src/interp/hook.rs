//! Debug hooks (`debug.sethook`): call, return, line and count events for Lua functions.
//!
//! A hook is an ordinary Lua call made between two instructions: the frame's pc is saved
//! past the instruction (so `getinfo` inside the hook reports its line), the hook returns
//! through [`RetMode::Hook`], which steps the pc back, and the instruction runs. The events
//! already delivered for that instruction are remembered so they are not delivered twice.

use gc_arena::Collect;

use crate::state::Ctx;
use crate::thread::{Frame, RetMode, Thread, ThreadState};
use crate::value::Value;

use super::call::{call_at_top, Flow};
use super::native::Error;

/// Event bits of [`Hook::mask`]: calls, returns, new lines, every `count` instructions.
pub const CALL: u8 = 1;
/// See [`CALL`].
pub const RETURN: u8 = 2;
/// See [`CALL`].
pub const LINE: u8 = 4;
/// See [`CALL`].
pub const COUNT: u8 = 8;

/// A thread's hook.
#[derive(Clone, Copy, Collect)]
#[collect(no_drop)]
pub struct Hook<'gc> {
    /// The function `debug.sethook` gave.
    pub func: Value<'gc>,
    /// The events it wants ([`CALL`], [`RETURN`], [`LINE`], [`COUNT`]).
    #[collect(require_static)]
    pub mask: u8,
    /// The instruction count between count events.
    #[collect(require_static)]
    pub count: u32,
    /// Instructions left before the next count event.
    #[collect(require_static)]
    pub left: u32,
}

/// Hook bookkeeping of a thread.
#[derive(Clone, Copy, Collect, Default)]
#[collect(no_drop)]
pub struct HookState<'gc> {
    /// The hook set, if any.
    pub hook: Option<Hook<'gc>>,
    /// A hook is running: no events until it returns.
    #[collect(require_static)]
    pub running: bool,
    /// The instruction (frame depth, pc) whose events are being delivered, and which.
    #[collect(require_static)]
    pub at: Option<(u32, u32)>,
    /// Events already delivered for that instruction.
    #[collect(require_static)]
    pub done: u8,
    /// The last instruction a line event looked at, for "new line" and "jumped back".
    #[collect(require_static)]
    pub old_pc: u32,
    /// For a call or return event: the first local holding the values passed, and how many
    /// (`getinfo`'s `ftransfer` and `ntransfer`).
    #[collect(require_static)]
    pub transfer: (u32, u32),
}

/// Before instruction `pc` of the Lua frame on top runs: delivers the events due. `Some`
/// when a hook call was set up (the interpreter goes on with it; the instruction runs
/// after).
pub(crate) fn before_instruction<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    pc: usize,
) -> Result<Option<Flow<'gc>>, Error<'gc>> {
    let Some(mut hook) = ts.hooks.hook else {
        return Ok(None);
    };
    if ts.hooks.running {
        return Ok(None);
    }
    let here = (ts.frames.len() as u32, pc as u32);
    if ts.hooks.at != Some(here) {
        ts.hooks.at = Some(here);
        ts.hooks.done = 0;
    }
    let done = ts.hooks.done;
    let Some(Frame::Lua(f)) = ts.frames.last() else {
        return Ok(None);
    };
    let (tail, proto) = (f.tail, f.closure.0.proto);
    if pc == 0 && hook.mask & CALL != 0 && done & CALL == 0 {
        ts.hooks.done |= CALL;
        let event = if tail { "tail call" } else { "call" };
        ts.hooks.transfer = (1, proto.plain.num_params as u32);
        return fire(ctx, thread, ts, event, Value::Nil, pc);
    }
    if hook.mask & COUNT != 0 && done & COUNT == 0 {
        ts.hooks.done |= COUNT;
        hook.left = hook.left.saturating_sub(1);
        if hook.left == 0 {
            hook.left = hook.count;
            ts.hooks.hook = Some(hook);
            return fire(ctx, thread, ts, "count", Value::Nil, pc);
        }
        ts.hooks.hook = Some(hook);
    }
    if hook.mask & LINE != 0 && done & LINE == 0 {
        ts.hooks.done |= LINE;
        let lines = &proto.plain.lines;
        let old = ts.hooks.old_pc as usize;
        ts.hooks.old_pc = pc as u32;
        match lines.get(pc) {
            Some(&line) => {
                let new_line = pc == 0 || pc <= old || lines.get(old) != Some(&line);
                if new_line {
                    return fire(ctx, thread, ts, "line", Value::Integer(line as i64), pc);
                }
            }
            // Stripped code: an event without a line where lua5.4 cannot tell lines apart
            // either (the first instruction, backward jumps).
            None if pc <= old => return fire(ctx, thread, ts, "line", Value::Nil, pc),
            None => {}
        }
    }
    // Nothing more for this instruction: it runs now, and a later visit is a new one
    // (unless it is a return whose event was delivered: `before_return` lets it go).
    if ts.hooks.done & RETURN == 0 {
        ts.hooks.at = None;
    }
    Ok(None)
}

/// Before a Lua function returns (its `pc` is past the return instruction): the return
/// event. `Some` when a hook call was set up.
pub(crate) fn before_return<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    pc: usize,
    results: (u32, u32),
) -> Result<Option<Flow<'gc>>, Error<'gc>> {
    let Some(hook) = ts.hooks.hook else {
        return Ok(None);
    };
    if ts.hooks.running || hook.mask & RETURN == 0 {
        return Ok(None);
    }
    let here = (ts.frames.len() as u32, (pc - 1) as u32);
    if ts.hooks.at == Some(here) && ts.hooks.done & RETURN != 0 {
        ts.hooks.at = None;
        return Ok(None);
    }
    ts.hooks.at = Some(here);
    ts.hooks.done = CALL | COUNT | LINE | RETURN;
    ts.hooks.transfer = results;
    fire(ctx, thread, ts, "return", Value::Nil, pc - 1)
}

/// After a return to a Lua frame: line events compare with the caller's instruction.
pub(crate) fn returned_to(ts: &mut ThreadState<'_>) {
    if let Some(Frame::Lua(f)) = ts.frames.last() {
        ts.hooks.old_pc = f.pc.saturating_sub(1);
    }
}

fn fire<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    event: &str,
    line: Value<'gc>,
    pc: usize,
) -> Result<Option<Flow<'gc>>, Error<'gc>> {
    let Some(hook) = ts.hooks.hook else {
        return Ok(None);
    };
    if let Some(Frame::Lua(f)) = ts.frames.last_mut() {
        // As if the instruction had been fetched: `getinfo` in the hook sees its line.
        f.pc = pc as u32 + 1;
    }
    ts.hooks.running = true;
    let event = ctx.str_value(event.as_bytes());
    call_at_top(ctx, thread, ts, hook.func, &[event, line], RetMode::Hook)
        .map(Some)
        .inspect_err(|_| ts.hooks.running = false)
}

/// Whether natives must be called with call and return events.
#[inline]
pub(crate) fn wants_native_events(ts: &ThreadState<'_>) -> bool {
    ts.hooks
        .hook
        .is_some_and(|h| h.mask & (CALL | RETURN) != 0 && !ts.hooks.running)
}

/// Delivers `event` ("call" or "return") about the native frame on top, if the hook wants
/// it. `Some` when a hook call was set up; when it returns, the native frame goes on.
pub(crate) fn native_event<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    event: &'static str,
    values: u32,
) -> Result<Option<Flow<'gc>>, Error<'gc>> {
    let Some(hook) = ts.hooks.hook else {
        return Ok(None);
    };
    let bit = if event == "call" { CALL } else { RETURN };
    if ts.hooks.running || hook.mask & bit == 0 {
        return Ok(None);
    }
    ts.hooks.running = true;
    ts.hooks.transfer = (1, values);
    let event = ctx.str_value(event.as_bytes());
    call_at_top(
        ctx,
        thread,
        ts,
        hook.func,
        &[event, Value::Nil],
        RetMode::Hook,
    )
    .map(Some)
    .inspect_err(|_| ts.hooks.running = false)
}

/// A hook call returned: events resume and the interrupted instruction runs.
pub(crate) fn hook_returned(ts: &mut ThreadState<'_>, at: usize) {
    ts.hooks.running = false;
    match ts.frames.last_mut() {
        Some(Frame::Lua(f)) => f.pc -= 1,
        // A native's call or return event: the native frame goes on.
        Some(Frame::Native(_)) => ts.pending = crate::thread::Pending::Returned { at },
        None => {}
    }
}
