//! The `coroutine` library: piccolo's `create`/`resume`/`yield`/`running`, with Lua 5.4's
//! `status`, `wrap`, `isyieldable` and `close`, and 5.4's messages for bad resumes.

use gc_arena::Collect;
use piccolo::{
    BoxSequence, Callback, CallbackReturn, Context, Error, Execution, Sequence, SequencePoll,
    Stack, Table, Thread, ThreadMode, Value,
};

use crate::args::{self, Args, Name};
use crate::base::error_value;

const fn n(func: &'static str) -> Name {
    Name::new("coroutine", func)
}

fn status<'gc>(exec: &Execution<'gc, '_>, co: Thread<'gc>) -> &'static str {
    if co == exec.current_thread().thread {
        return "running";
    }
    match co.mode() {
        ThreadMode::Stopped | ThreadMode::Result => "dead",
        ThreadMode::Suspended => "suspended",
        ThreadMode::Normal | ThreadMode::Waiting => "normal",
        // Only the current thread really runs; one borrowed by the executor resumed it.
        ThreadMode::Running => "normal",
    }
}

fn check_thread<'gc>(
    a: &Args<'gc, '_, '_>,
    stack: &Stack<'gc, '_>,
) -> Result<Thread<'gc>, Error<'gc>> {
    match stack.get(0) {
        Value::Thread(t) => Ok(t),
        _ => Err(a.type_error(stack, 0, "thread")),
    }
}

/// Why a thread cannot be resumed, in Lua's words.
fn resume_problem<'gc>(exec: &Execution<'gc, '_>, co: Thread<'gc>) -> Option<&'static str> {
    match status(exec, co) {
        "suspended" => None,
        "dead" => Some("cannot resume dead coroutine"),
        _ => Some("cannot resume non-suspended coroutine"),
    }
}

#[derive(Collect)]
#[collect(require_static)]
struct ResumeResult;

impl<'gc> Sequence<'gc> for ResumeResult {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        stack.into_front(ctx, true);
        Ok(SequencePoll::Return)
    }

    fn error(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        error: Error<'gc>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        let v = error_value(ctx, error);
        stack.replace(ctx, (false, v));
        Ok(SequencePoll::Return)
    }
}

/// Errors out of a wrapped coroutine get the caller's position, as `auxwrap` adds.
#[derive(Collect)]
#[collect(require_static)]
struct WrapResult(String);

impl<'gc> Sequence<'gc> for WrapResult {
    fn poll(
        &mut self,
        _ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        _stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        Ok(SequencePoll::Return)
    }

    fn error(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        error: Error<'gc>,
        _stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        match error_value(ctx, error) {
            Value::String(s) => {
                let mut msg = self.0.clone().into_bytes();
                msg.extend_from_slice(s.as_bytes());
                Err(args::plain_error(ctx, msg))
            }
            v => Err(v.into()),
        }
    }
}

fn new_thread<'gc>(
    ctx: Context<'gc>,
    a: &Args<'gc, '_, '_>,
    stack: &Stack<'gc, '_>,
) -> Result<Thread<'gc>, Error<'gc>> {
    let f = match stack.get(0) {
        Value::Function(f) => f,
        _ => return Err(a.type_error(stack, 0, "function")),
    };
    let thread = Thread::new(ctx);
    thread
        .start_suspended(&ctx, f)
        .map_err(|e| a.error(e.to_string()))?;
    Ok(thread)
}

pub(crate) fn load<'gc>(ctx: Context<'gc>) {
    // Take `running` from piccolo; its `continue` and `yieldto` are not Lua 5.4. (Keys are
    // never removed from a table here: piccolo 0.3.3 can panic growing a table with
    // removed keys.)
    piccolo::stdlib::load_coroutine(ctx);
    let Value::Table(piccolo_co) = ctx.get_global("coroutine") else {
        unreachable!("piccolo registers coroutine")
    };
    let co = Table::new(&ctx);
    co.set(ctx, "running", piccolo_co.get(ctx, "running"))
        .unwrap();

    co.set(
        ctx,
        "create",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("create"));
            let thread = new_thread(ctx, &a, &stack)?;
            stack.replace(ctx, thread);
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();

    co.set(
        ctx,
        "resume",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("resume"));
            let thread = check_thread(&a, &stack)?;
            if let Some(problem) = resume_problem(&exec, thread) {
                stack.replace(ctx, (false, problem));
                return Ok(CallbackReturn::Return);
            }
            stack.pop_front();
            Ok(CallbackReturn::Resume {
                thread,
                then: Some(BoxSequence::new(&ctx, ResumeResult)),
            })
        }),
    )
    .unwrap();

    co.set(
        ctx,
        "wrap",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("wrap"));
            let thread = new_thread(ctx, &a, &stack)?;
            let f = Callback::from_fn_with(&ctx, thread, |thread, ctx, exec, _stack| {
                let pos = args::position(&exec);
                if let Some(problem) = resume_problem(&exec, *thread) {
                    return Err(args::plain_error(ctx, format!("{pos}{problem}")));
                }
                Ok(CallbackReturn::Resume {
                    thread: *thread,
                    then: Some(BoxSequence::new(&ctx, WrapResult(pos))),
                })
            });
            stack.replace(ctx, f);
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();

    co.set(
        ctx,
        "status",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("status"));
            let thread = check_thread(&a, &stack)?;
            stack.replace(ctx, status(&exec, thread));
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();

    co.set(
        ctx,
        "isyieldable",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let main = match stack.get(0) {
                Value::Thread(t) => {
                    t != exec.current_thread().thread || exec.current_thread().is_main
                }
                _ => exec.current_thread().is_main,
            };
            stack.replace(ctx, !main);
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();

    co.set(
        ctx,
        "yield",
        Callback::from_fn(&ctx, |ctx, exec, _stack| {
            if exec.current_thread().is_main {
                return Err(args::error(
                    ctx,
                    &exec,
                    "attempt to yield from outside a coroutine",
                ));
            }
            Ok(CallbackReturn::Yield {
                to_thread: None,
                then: None,
            })
        }),
    )
    .unwrap();

    co.set(
        ctx,
        "close",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("close"));
            let thread = check_thread(&a, &stack)?;
            match status(&exec, thread) {
                "suspended" | "dead" => {
                    thread.reset(&ctx).map_err(|e| a.error(e.to_string()))?;
                    stack.replace(ctx, true);
                    Ok(CallbackReturn::Return)
                }
                s => Err(a.error(format!("cannot close a {s} coroutine"))),
            }
        }),
    )
    .unwrap();
    ctx.set_global("coroutine", co).unwrap();
}
