//! The coroutine library. Resuming and yielding are actions the executor carries out, so a
//! coroutine can yield from anywhere: inside `pcall`, metamethods or iterators.

use vm::function::NativeClosure;
use vm::lib::{bug, Action, Cont, Error, NativeCall, Outcome};
use vm::state::Ctx;
use vm::thread::{Frame, Status, Thread};
use vm::value::Value;

use super::register_lib;

pub fn open(ctx: Ctx<'_>) {
    register_lib(
        ctx,
        "coroutine",
        &[
            ("close", close),
            ("create", create),
            ("isyieldable", isyieldable),
            ("resume", resume),
            ("running", running),
            ("status", status),
            ("wrap", wrap),
            ("yield", yield_),
        ],
    );
}

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

fn new_coroutine<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
) -> Result<Thread<'gc>, Error<'gc>> {
    let f = call.check_function(ctx, 0)?;
    let co = Thread::new(ctx.mc);
    let hooks = call.thread_state().hooks.hook;
    let mut ts = co.state_mut(ctx.mc);
    ts.stack.push(Value::Function(f));
    // A new coroutine starts with the hook of the thread that made it, as in lua5.4.
    ts.hooks.hook = hooks;
    drop(ts);
    Ok(co)
}

fn create<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let co = new_coroutine(ctx, call)?;
    call.ret1(Value::from(co))
}

fn resume<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let co = call.check_thread(ctx, 0)?;
    Ok(Action::Resume {
        thread: co,
        at: 1,
        then: Cont::new(resume_cont),
    })
}

fn resume_cont<'gc>(
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

fn wrap<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let co = new_coroutine(ctx, call)?;
    let f = NativeClosure::with_upvals(
        ctx.mc,
        "wrap",
        wrapped,
        alloc::boxed::Box::new([Value::Thread(co)]),
    );
    call.ret1(Value::from(f))
}

fn wrapped<'gc>(_ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let Value::Thread(co) = call.upval(0) else {
        bug() // wrap keeps its coroutine
    };
    Ok(Action::Resume {
        thread: co,
        at: 0,
        then: Cont::new(wrapped_cont),
    })
}

fn wrapped_cont<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    match outcome {
        Outcome::Returned { at } => call.ret_from(at),
        Outcome::Raised(e) => {
            let Value::Thread(co) = call.upval(0) else {
                bug() // wrap keeps its coroutine
            };
            let died_now = if co == call.thread() {
                false
            } else {
                !co.state().error.is_nil()
            };
            if !died_now {
                return rethrow(ctx, call, e);
            }
            // It failed in this call: its to-be-closed variables are closed before the
            // error goes on (their errors replace it).
            Ok(Action::Close {
                thread: co,
                then: Cont::new(wrapped_closed),
            })
        }
    }
}

fn wrapped_closed<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    match outcome {
        Outcome::Raised(e) => rethrow(ctx, call, e),
        Outcome::Returned { .. } => rethrow(ctx, call, Value::Nil),
    }
}

/// The coroutine's error goes on in the caller, with the caller's position added to
/// messages.
fn rethrow<'gc>(ctx: Ctx<'gc>, call: &NativeCall<'_, 'gc>, e: Value<'gc>) -> R<'gc> {
    match e {
        Value::String(s) => {
            let mut text = call.where_(1).into_bytes();
            text.extend_from_slice(s.as_bytes());
            Err(Error::Value(ctx.str_value(&text)))
        }
        e => Err(Error::Value(e)),
    }
}

fn yield_<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if call.thread() == ctx.main_thread() {
        return Err(Error::runtime("attempt to yield from outside a coroutine"));
    }
    if !yieldable(call) {
        return Err(Error::runtime("attempt to yield across a C-call boundary"));
    }
    Ok(Action::Yield {
        at: 0,
        then: Cont::resumed_values(),
    })
}

/// No library function that cannot be resumed through waits below us.
fn yieldable(call: &mut NativeCall<'_, '_>) -> bool {
    call.thread_state().frames.iter().all(|f| match f {
        Frame::Native(n) => n.cont.yieldable,
        Frame::Lua(_) => true,
    })
}

fn status_name<'gc>(ctx: Ctx<'gc>, call: &NativeCall<'_, 'gc>, co: Thread<'gc>) -> &'static str {
    let _ = ctx;
    if co == call.thread() {
        return "running";
    }
    match co.state().status() {
        Status::Suspended => "suspended",
        Status::Running => "running",
        Status::Normal => "normal",
        Status::Dead => "dead",
    }
}

fn status<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let co = call.check_thread(ctx, 0)?;
    let s = status_name(ctx, call, co);
    call.ret1(ctx.str_value(s.as_bytes()))
}

fn running<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let me = call.thread();
    call.ret(&[Value::Thread(me), Value::Boolean(me == ctx.main_thread())])
}

fn isyieldable<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let co = match call.arg(0) {
        Value::Nil => call.thread(),
        _ => call.check_thread(ctx, 0)?,
    };
    let me = call.thread();
    let answer = co != ctx.main_thread() && (co != me || yieldable(call));
    call.ret1(Value::from(answer))
}

fn close<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let co = call.check_thread(ctx, 0)?;
    match status_name(ctx, call, co) {
        "suspended" | "dead" => Ok(Action::Close {
            thread: co,
            then: Cont::new(close_cont),
        }),
        other => Err(Error::runtime(alloc::format!(
            "cannot close a {other} coroutine"
        ))),
    }
}

fn close_cont<'gc>(
    _ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> R<'gc> {
    match outcome {
        Outcome::Returned { .. } => call.ret1(Value::from(true)),
        Outcome::Raised(e) => call.ret(&[Value::Boolean(false), e]),
    }
}
