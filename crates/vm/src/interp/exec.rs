//! The dispatch loop. Each instruction has a fast path for the common operand types written
//! inline; everything else (metamethods, coercions, errors) goes to a cold function that
//! leaves the thread ready for the loop to pick up whatever frame is on top.

use crate::bytecode::Op;
use crate::checked::{at, at_mut, borrow, borrow_mut};
use crate::external::Running;
use crate::function::{LuaClosure, Upval, UpvalState};
use crate::number::{self, float_to_int};
use crate::state::Ctx;
use crate::table::Table;
use crate::thread::{Frame, LuaFrame, RetMode, Thread, ThreadState};
use crate::value::{Function, Value};

use super::arith::{arith, float_op, ArithOp};
use super::call::{
    call_native, call_value, finish_call, push_lua_frame, resume_native, scratch_top, Exit, Flow,
    MAX_FRAMES,
};
use super::describe::Src;
use super::meta::{self, metamethod, MetaEvent};
use super::native::Error;
use super::unwind::{error_to_value, Caller};

#[inline]
fn upval_get<'gc>(stack: &[Value<'gc>], thread: Thread<'gc>, u: Upval<'gc>) -> Value<'gc> {
    match u.0.get() {
        UpvalState::Closed(v) => v,
        UpvalState::Open { thread: t, index } => {
            if t == thread {
                *at(stack, index)
            } else {
                *at(&borrow(t.0).stack, index)
            }
        }
    }
}

#[inline]
fn upval_set<'gc>(
    ctx: Ctx<'gc>,
    stack: &mut [Value<'gc>],
    thread: Thread<'gc>,
    u: Upval<'gc>,
    v: Value<'gc>,
) {
    let state = u.0.get();
    match state {
        UpvalState::Closed(_) => u.0.set(ctx.mc, UpvalState::Closed(v)),
        UpvalState::Open { thread: t, index } => {
            if t == thread {
                *at_mut(stack, index) = v;
            } else {
                *at_mut(&mut borrow_mut(t.0, ctx.mc).stack, index) = v;
            }
        }
    }
}

/// Out of line: the loop saves its position before every slow path.
#[inline(never)]
fn save_pc(frames: &mut [Frame<'_>], pc: usize, top: usize) {
    if let Some(Frame::Lua(f)) = frames.last_mut() {
        f.pc = pc as u32;
        f.top = top as u32;
    }
}

fn located<'gc>(ctx: Ctx<'gc>, ts: &ThreadState<'gc>, e: Error<'gc>) -> Value<'gc> {
    error_to_value(ctx, ts, e, Caller::Top, None)
}

/// Runs the frames of `thread` until it finishes, yields, resumes another thread, runs out
/// of fuel, or raises an error (returned for the caller to unwind).
pub(super) fn execute<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    fuel: &mut i64,
) -> Result<Exit<'gc>, Value<'gc>> {
    // The loop runs in rounds of at most `GC_CHECK_ROUND` fuel and looks at the collector's
    // watermark between rounds (and after instructions that allocate): a backward jump then
    // only counts fuel.
    let gc_watermark = ctx.gc_watermark();
    loop {
        let granted = (*fuel).min(GC_CHECK_ROUND);
        let mut round = Round {
            left: granted,
            spared: 0,
        };
        let run = execute_round(ctx, thread, ts, &mut round);
        // Host work owed since the last frame entry is settled at the end of each round.
        *fuel -= granted - round.left - round.spared + ctx.take_fuel_debt();
        match run {
            // A round also ends early when `collectgarbage` asks for a collection.
            Ok(Some(Exit::Fuel)) if *fuel > 0 => {
                if ctx.gc_requested() || ctx.mc.metrics().total_allocation() > gc_watermark {
                    return Ok(Exit::Collect);
                }
            }
            Ok(Some(exit)) => return Ok(exit),
            Ok(None) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Fuel between two looks at the collector's watermark: small enough that a loop which
/// allocates overshoots it by little, large enough that a round's start costs nothing.
const GC_CHECK_ROUND: i64 = 2048;

/// The fuel of one round; an instruction that allocated past the watermark sets aside what
/// is left (`spared`), so that the next backward jump ends the round without spending it.
struct Round {
    left: i64,
    spared: i64,
}

/// The dispatch loop; `Ok(None)` when hooks were switched on or off and the frame must be
/// entered again.
fn execute_round<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    fuel: &mut Round,
) -> Result<Option<Exit<'gc>>, Value<'gc>> {
    let gc_watermark = ctx.gc_watermark();
    'frames: loop {
        // Every frame (re)entry costs fuel: calls, returns, metamethods and natives calling
        // Lua all go through here, so no cycle of them escapes the budget. Host work done
        // since (external tables) is charged here too.
        if cfg!(not(feature = "unmetered")) {
            fuel.left -= 1;
        }
        fuel.left -= ctx.take_fuel_debt();
        if fuel.left <= 0 {
            return Ok(Some(Exit::Fuel));
        }
        let (closure, base, mut pc, mut top, varargs) = match ts.frames.last() {
            None => return Ok(Some(Exit::Finished)),
            Some(Frame::Native(_)) => match resume_native(ctx, thread, ts) {
                Ok(Flow::Continue) => continue 'frames,
                Ok(Flow::Exit(exit)) => return Ok(Some(exit)),
                Err(e) => return Err(located(ctx, ts, e)),
            },
            Some(Frame::Lua(f)) => (
                f.closure,
                f.base as usize,
                f.pc as usize,
                f.top as usize,
                f.varargs as usize,
            ),
        };
        let proto = closure.0.proto.as_ref();
        // A callee's native calls may have cut the stack below this frame's registers.
        let need = base + proto.plain.max_stack as usize;
        if ts.stack.len() < need {
            ts.stack.resize(need, Value::Nil);
        }
        let code: &[Op] = &proto.plain.code;
        let konst: &[Value<'gc>] = &proto.constants;
        let upvals_ref = closure.upvals();
        let upvals: &[Upval<'gc>] = &upvals_ref;
        // One well-predicted test per instruction: a second copy of the loop without it
        // would double the largest function in the module.
        let trap = ts.hooks.hook.is_some();
        // The whole stack as a slice, so its address and length stay in registers; taken
        // again after anything that may resize it.
        let mut stack: &mut [Value<'gc>] = &mut ts.stack[..];

        macro_rules! reg {
            ($r:expr) => {
                *at_mut(stack, base + $r as usize)
            };
        }
        macro_rules! resync {
            () => {
                stack = &mut ts.stack[..];
            };
        }
        macro_rules! save_pc {
            () => {
                save_pc(&mut ts.frames, pc, top)
            };
        }
        // Only backward jumps charge: at their targets no temporaries are live, so what
        // lies above the active locals can go before the collector looks at the stack.
        macro_rules! charge {
            ($n:expr) => {
                // `unmetered` exists only to measure what this costs (`make bench`).
                if cfg!(not(feature = "unmetered")) {
                    fuel.left -= $n as i64;
                }
                if fuel.left <= 0 {
                    out_of_fuel!();
                }
            };
        }
        macro_rules! allocated {
            () => {
                if ctx.mc.metrics().total_allocation() > gc_watermark {
                    fuel.spared += fuel.left;
                    fuel.left = 0;
                }
            };
        }
        macro_rules! jump {
            ($off:expr) => {
                let off = $off;
                pc = (pc as i64 + off as i64) as usize;
                if off < 0 {
                    charge!(-(off as i64));
                }
            };
        }
        macro_rules! arith_op {
            ($a:expr, $b:expr, $c:expr, $op:expr, $int:expr) => {{
                // Matching on references reads the tags straight from the stack, without
                // copying both values out first.
                let result = match (at(stack, base + $b as usize), at(stack, base + $c as usize)) {
                    (&Value::Integer(x), &Value::Integer(y)) => Value::Integer($int(x, y)),
                    (&Value::Float(x), &Value::Float(y)) => Value::Float(float_op($op, x, y)),
                    (&x, &y) => {
                        save_pc!();
                        slow!(arith(
                            ctx,
                            thread,
                            ts,
                            $op,
                            x,
                            y,
                            base + $a as usize,
                            (Src::Reg($b), Src::Reg($c))
                        ));
                    }
                };
                reg!($a) = result;
            }};
        }
        macro_rules! arith_k {
            ($a:expr, $b:expr, $k:expr, $op:expr, $int:expr) => {{
                let (x, y) = (reg!($b), *at(konst, $k as usize));
                reg!($a) = match (x, y) {
                    (Value::Integer(x), Value::Integer(y)) => Value::Integer($int(x, y)),
                    (Value::Float(x), Value::Float(y)) => Value::Float(float_op($op, x, y)),
                    (Value::Float(x), Value::Integer(y)) => {
                        Value::Float(float_op($op, x, y as f64))
                    }
                    _ => {
                        save_pc!();
                        slow!(arith(
                            ctx,
                            thread,
                            ts,
                            $op,
                            x,
                            y,
                            base + $a as usize,
                            (Src::Reg($b), Src::None)
                        ));
                    }
                };
            }};
        }
        // Division-like operators whose integer form can fail: always through `arith`'s
        // numeric core unless both operands are floats.
        macro_rules! arith_general {
            ($a:expr, $x:expr, $y:expr, $op:expr, $srcs:expr) => {{
                let (x, y) = ($x, $y);
                if let (Value::Float(fx), Value::Float(fy)) = (x, y) {
                    reg!($a) = Value::Float(float_op($op, fx, fy));
                } else {
                    save_pc!();
                    slow!(arith(ctx, thread, ts, $op, x, y, base + $a as usize, $srcs));
                }
            }};
        }
        macro_rules! bitwise {
            ($a:expr, $x:expr, $y:expr, $op:expr, $srcs:expr, $f:expr) => {{
                let (x, y) = ($x, $y);
                if let (Value::Integer(ix), Value::Integer(iy)) = (x, y) {
                    reg!($a) = Value::Integer($f(ix, iy));
                } else {
                    save_pc!();
                    slow!(arith(ctx, thread, ts, $op, x, y, base + $a as usize, $srcs));
                }
            }};
        }
        macro_rules! compare {
            ($x:expr, $y:expr, $le:expr, $k:expr, $off:expr) => {{
                let (x, y) = ($x, $y);
                let r = match (x, y) {
                    (Value::Integer(x), Value::Integer(y)) => {
                        if $le {
                            x <= y
                        } else {
                            x < y
                        }
                    }
                    (Value::Float(x), Value::Float(y)) => {
                        if $le {
                            x <= y
                        } else {
                            x < y
                        }
                    }
                    _ => match meta::primitive_order(x, y, $le) {
                        Some(r) => r,
                        None => {
                            save_pc!();
                            match meta::order(ctx, thread, ts, x, y, $le, $k, $off) {
                                Ok(Some(r)) => {
                                    resync!();
                                    r
                                }
                                Ok(None) => slow!(Ok(Flow::Continue)),
                                Err(e) => slow!(Err(e)),
                            }
                        }
                    },
                };
                if r == $k {
                    jump!($off);
                }
            }};
        }

        // External tables run no metamethods (their metatable's markers only divert the fast
        // paths), so their reads and writes finish here, without leaving the loop.
        macro_rules! external_get {
            ($id:expr, $key:expr, $a:expr) => {
                match crate::external::get(ctx, $id, $key) {
                    Ok(v) => {
                        reg!($a) = v;
                        allocated!();
                        continue;
                    }
                    Err(e) => fail!(e),
                }
            };
        }
        macro_rules! external_set {
            ($id:expr, $key:expr, $v:expr) => {{
                let done = crate::external::set(ctx, &Running::new(thread, ts), $id, $key, $v);
                resync!();
                // Host work (storing a big table) is charged now, as a frame entry would.
                fuel.left -= ctx.take_fuel_debt();
                match done {
                    Ok(()) => continue,
                    Err(e) => fail!(e),
                }
            }};
        }

        // Slow paths leave the instruction loop with their outcome, handled once below.
        let outcome: Result<Flow<'gc>, Error<'gc>> = 'ops: loop {
            // Runs a slow path (pc already saved); the loop then resumes with whatever frame is on
            // top.
            macro_rules! slow {
                ($e:expr) => {
                    break 'ops $e
                };
            }
            macro_rules! fail {
                ($e:expr) => {{
                    save_pc!();
                    break 'ops Err($e);
                }};
            }
            macro_rules! out_of_fuel {
                () => {{
                    save_pc!();
                    clear_dead_registers(stack, base, proto, pc);
                    break 'ops Ok(Flow::Exit(Exit::Fuel));
                }};
            }
            if trap {
                save_pc!();
                match super::hook::before_instruction(ctx, thread, ts, pc) {
                    Ok(None) => {
                        resync!();
                    }
                    Ok(Some(flow)) => break 'ops Ok(flow),
                    Err(e) => break 'ops Err(e),
                }
            }
            let op = at(code, pc);
            pc += 1;
            match *op {
                Op::Move { a, b } => reg!(a) = reg!(b),
                Op::LoadI { a, i } => reg!(a) = Value::Integer(i as i64),
                Op::LoadF { a, f } => reg!(a) = Value::Float(f as f64),
                Op::LoadK { a, k } => reg!(a) = *at(konst, k as usize),
                Op::LoadFalse { a } => reg!(a) = Value::Boolean(false),
                Op::LoadFalseSkip { a } => {
                    reg!(a) = Value::Boolean(false);
                    pc += 1;
                }
                Op::LoadTrue { a } => reg!(a) = Value::Boolean(true),
                Op::LoadNil { a, n } => {
                    let start = base + a as usize;
                    for slot in at_mut(stack, start..=start + n as usize) {
                        *slot = Value::Nil;
                    }
                }
                Op::GetUpval { a, b } => {
                    reg!(a) = upval_get(stack, thread, *at(upvals, b as usize))
                }
                Op::SetUpval { a, b } => {
                    let v = reg!(a);
                    upval_set(ctx, stack, thread, *at(upvals, b as usize), v);
                }
                Op::GetTabUp { a, b, k } => {
                    let t = upval_get(stack, thread, *at(upvals, b as usize));
                    let key = *at(konst, k as usize);
                    if let (Value::Table(t), Value::String(s)) = (t, key) {
                        let st = t.state();
                        let v = st.get_str(s);
                        if !v.is_nil() || st.metatable().is_none() {
                            reg!(a) = v;
                            continue;
                        }
                    }
                    save_pc!();
                    slow!(meta::index(
                        ctx,
                        thread,
                        ts,
                        t,
                        key,
                        base + a as usize,
                        Src::Upval(b)
                    ));
                }
                Op::GetTable { a, b, c } => {
                    let (t, key) = (reg!(b), reg!(c));
                    if let Value::Table(t) = t {
                        let st = t.state();
                        let v = match key {
                            Value::Integer(i) => st.get_int(i),
                            _ => st.get(key),
                        };
                        if !v.is_nil() || st.metatable().is_none() {
                            reg!(a) = v;
                            continue;
                        }
                        if let Some(id) = st.external_id() {
                            drop(st);
                            external_get!(id, key, a);
                        }
                    }
                    save_pc!();
                    slow!(meta::index(
                        ctx,
                        thread,
                        ts,
                        t,
                        key,
                        base + a as usize,
                        Src::Reg(b)
                    ));
                }
                Op::GetInt { a, b, c } => {
                    let t = reg!(b);
                    if let Value::Table(t) = t {
                        let st = t.state();
                        let v = st.get_int(c as i64);
                        if !v.is_nil() || st.metatable().is_none() {
                            reg!(a) = v;
                            continue;
                        }
                        if let Some(id) = st.external_id() {
                            drop(st);
                            external_get!(id, Value::Integer(c as i64), a);
                        }
                    }
                    save_pc!();
                    let key = Value::Integer(c as i64);
                    slow!(meta::index(
                        ctx,
                        thread,
                        ts,
                        t,
                        key,
                        base + a as usize,
                        Src::Reg(b)
                    ));
                }
                Op::GetField { a, b, k } => {
                    let t = reg!(b);
                    let key = *at(konst, k as usize);
                    if let (Value::Table(t), Value::String(s)) = (t, key) {
                        if let Some(v) = meta::index_str_fast(ctx, t, s) {
                            reg!(a) = v;
                            continue;
                        }
                        if let Some(id) = t.external_id() {
                            external_get!(id, key, a);
                        }
                    }
                    save_pc!();
                    slow!(meta::index(
                        ctx,
                        thread,
                        ts,
                        t,
                        key,
                        base + a as usize,
                        Src::Reg(b)
                    ));
                }
                Op::SelfK { a, b, k } => {
                    let obj = reg!(b);
                    let key = *at(konst, k as usize);
                    reg!(a + 1) = obj;
                    if let Value::String(s) = key {
                        // Methods of objects (through class tables) and of strings.
                        let table = match obj {
                            Value::Table(t) => Some(t),
                            Value::String(_) => match ctx
                                .type_metatable(crate::value::Type::String)
                                .map(|mt| meta::event_of(ctx, mt, MetaEvent::Index))
                            {
                                Some(Value::Table(t)) => Some(t),
                                _ => None,
                            },
                            _ => None,
                        };
                        if let Some(v) = table.and_then(|t| meta::index_str_fast(ctx, t, s)) {
                            reg!(a) = v;
                            continue;
                        }
                    }
                    save_pc!();
                    slow!(meta::index(
                        ctx,
                        thread,
                        ts,
                        obj,
                        key,
                        base + a as usize,
                        Src::Reg(b)
                    ));
                }
                Op::SetTabUp { a, c, kc, k } => {
                    let t = upval_get(stack, thread, *at(upvals, a as usize));
                    let key = *at(konst, k as usize);
                    let v = if kc { *at(konst, c as usize) } else { reg!(c) };
                    if let (Value::Table(t), Value::String(s)) = (t, key) {
                        if try_set_str(ctx, t, s, v) {
                            continue;
                        }
                    }
                    save_pc!();
                    slow!(meta::new_index(ctx, thread, ts, t, key, v, Src::Upval(a)));
                }
                Op::SetTable { a, b, c, kc } => {
                    let (t, key) = (reg!(a), reg!(b));
                    let v = if kc { *at(konst, c as usize) } else { reg!(c) };
                    if let Value::Table(t) = t {
                        match try_set(ctx, t, key, v) {
                            Ok(()) => continue,
                            Err(Some(id)) => external_set!(id, key, v),
                            Err(None) => {}
                        }
                    }
                    save_pc!();
                    slow!(meta::new_index(ctx, thread, ts, t, key, v, Src::Reg(a)));
                }
                Op::SetInt { a, b, c, kc } => {
                    let t = reg!(a);
                    let v = if kc { *at(konst, c as usize) } else { reg!(c) };
                    if let Value::Table(t) = t {
                        let mut st = t.state_mut(ctx.mc);
                        if (st.metatable().is_none() || !st.get_int(b as i64).is_nil())
                            && st.try_set_int(b as i64, v, 0).is_ok()
                        {
                            continue;
                        }
                        if let Some(id) = st.external_id() {
                            drop(st);
                            external_set!(id, Value::Integer(b as i64), v);
                        }
                    }
                    save_pc!();
                    let key = Value::Integer(b as i64);
                    slow!(meta::new_index(ctx, thread, ts, t, key, v, Src::Reg(a)));
                }
                Op::SetField { a, c, kc, k } => {
                    let t = reg!(a);
                    let key = *at(konst, k as usize);
                    let v = if kc { *at(konst, c as usize) } else { reg!(c) };
                    if let (Value::Table(t), Value::String(s)) = (t, key) {
                        if try_set_str(ctx, t, s, v) {
                            continue;
                        }
                        if let Some(id) = t.external_id() {
                            external_set!(id, key, v);
                        }
                    }
                    save_pc!();
                    slow!(meta::new_index(ctx, thread, ts, t, key, v, Src::Reg(a)));
                }
                Op::NewTable { a, hash, array } => {
                    // A big constructor's array part grows with its SetLists instead, which
                    // check the memory limit first.
                    let array = if array > 1024 { 0 } else { array as usize };
                    reg!(a) = Value::Table(Table::with_capacity(ctx.mc, array, hash as usize));
                    allocated!();
                }

                Op::AddI { a, b, i } => {
                    let x = reg!(b);
                    reg!(a) = match x {
                        Value::Integer(x) => Value::Integer(x.wrapping_add(i as i64)),
                        Value::Float(x) => Value::Float(x + i as f64),
                        _ => {
                            save_pc!();
                            let y = Value::Integer(i as i64);
                            slow!(arith(
                                ctx,
                                thread,
                                ts,
                                ArithOp::Add,
                                x,
                                y,
                                base + a as usize,
                                (Src::Reg(b), Src::None)
                            ));
                        }
                    };
                }
                Op::AddK { a, b, k } => arith_k!(a, b, k, ArithOp::Add, i64::wrapping_add),
                Op::SubK { a, b, k } => arith_k!(a, b, k, ArithOp::Sub, i64::wrapping_sub),
                Op::MulK { a, b, k } => arith_k!(a, b, k, ArithOp::Mul, i64::wrapping_mul),
                Op::ModK { a, b, k } => {
                    arith_general!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::Mod,
                        (Src::Reg(b), Src::None)
                    )
                }
                Op::PowK { a, b, k } => {
                    arith_general!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::Pow,
                        (Src::Reg(b), Src::None)
                    )
                }
                Op::DivK { a, b, k } => {
                    arith_general!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::Div,
                        (Src::Reg(b), Src::None)
                    )
                }
                Op::IDivK { a, b, k } => {
                    arith_general!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::IDiv,
                        (Src::Reg(b), Src::None)
                    )
                }
                Op::BAndK { a, b, k } => {
                    bitwise!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::BAnd,
                        (Src::Reg(b), Src::None),
                        |x, y| x & y
                    )
                }
                Op::BOrK { a, b, k } => {
                    bitwise!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::BOr,
                        (Src::Reg(b), Src::None),
                        |x, y| x | y
                    )
                }
                Op::BXorK { a, b, k } => {
                    bitwise!(
                        a,
                        reg!(b),
                        *at(konst, k as usize),
                        ArithOp::BXor,
                        (Src::Reg(b), Src::None),
                        |x, y| x ^ y
                    )
                }
                Op::ShrI { a, b, i } => bitwise!(
                    a,
                    reg!(b),
                    Value::Integer(i as i64),
                    ArithOp::Shr,
                    (Src::Reg(b), Src::None),
                    number::shift_right
                ),
                Op::ShlI { a, b, i } => bitwise!(
                    a,
                    Value::Integer(i as i64),
                    reg!(b),
                    ArithOp::Shl,
                    (Src::None, Src::Reg(b)),
                    number::shift_left
                ),
                Op::Add { a, b, c } => arith_op!(a, b, c, ArithOp::Add, i64::wrapping_add),
                Op::Sub { a, b, c } => arith_op!(a, b, c, ArithOp::Sub, i64::wrapping_sub),
                Op::Mul { a, b, c } => arith_op!(a, b, c, ArithOp::Mul, i64::wrapping_mul),
                Op::Mod { a, b, c } => {
                    arith_general!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::Mod,
                        (Src::Reg(b), Src::Reg(c))
                    )
                }
                Op::Pow { a, b, c } => {
                    arith_general!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::Pow,
                        (Src::Reg(b), Src::Reg(c))
                    )
                }
                Op::Div { a, b, c } => {
                    arith_general!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::Div,
                        (Src::Reg(b), Src::Reg(c))
                    )
                }
                Op::IDiv { a, b, c } => {
                    arith_general!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::IDiv,
                        (Src::Reg(b), Src::Reg(c))
                    )
                }
                Op::BAnd { a, b, c } => {
                    bitwise!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::BAnd,
                        (Src::Reg(b), Src::Reg(c)),
                        |x, y| x & y
                    )
                }
                Op::BOr { a, b, c } => {
                    bitwise!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::BOr,
                        (Src::Reg(b), Src::Reg(c)),
                        |x, y| x | y
                    )
                }
                Op::BXor { a, b, c } => {
                    bitwise!(
                        a,
                        reg!(b),
                        reg!(c),
                        ArithOp::BXor,
                        (Src::Reg(b), Src::Reg(c)),
                        |x, y| x ^ y
                    )
                }
                Op::Shl { a, b, c } => bitwise!(
                    a,
                    reg!(b),
                    reg!(c),
                    ArithOp::Shl,
                    (Src::Reg(b), Src::Reg(c)),
                    number::shift_left
                ),
                Op::Shr { a, b, c } => bitwise!(
                    a,
                    reg!(b),
                    reg!(c),
                    ArithOp::Shr,
                    (Src::Reg(b), Src::Reg(c)),
                    number::shift_right
                ),
                Op::Unm { a, b } => {
                    let x = reg!(b);
                    reg!(a) = match x {
                        Value::Integer(i) => Value::Integer(i.wrapping_neg()),
                        Value::Float(f) => Value::Float(-f),
                        _ => {
                            save_pc!();
                            slow!(arith(
                                ctx,
                                thread,
                                ts,
                                ArithOp::Unm,
                                x,
                                x,
                                base + a as usize,
                                (Src::Reg(b), Src::Reg(b))
                            ));
                        }
                    };
                }
                Op::BNot { a, b } => {
                    let x = reg!(b);
                    bitwise!(
                        a,
                        x,
                        x,
                        ArithOp::BNot,
                        (Src::Reg(b), Src::Reg(b)),
                        |x: i64, _| !x
                    )
                }
                Op::Not { a, b } => reg!(a) = Value::Boolean(!reg!(b).is_truthy()),
                Op::Len { a, b } => {
                    let x = reg!(b);
                    match x {
                        Value::String(s) => reg!(a) = Value::Integer(s.len() as i64),
                        Value::Table(t) if t.metatable().is_none() => {
                            reg!(a) = Value::Integer(t.length())
                        }
                        _ => {
                            save_pc!();
                            slow!(meta::len(
                                ctx,
                                thread,
                                ts,
                                x,
                                base + a as usize,
                                Src::Reg(b)
                            ));
                        }
                    }
                }
                Op::Concat { a, n } => {
                    // Two strings or integers, the common case: no loop.
                    if n == 2 {
                        // A short result whose only use is as the key or the value of one
                        // external-table access goes to the host as bytes.
                        if !trap && code.get(pc).is_some_and(|op| super::fuse::may_fuse(op, a)) {
                            let mut failed = None;
                            let fused = super::fuse::concat(
                                ctx,
                                thread,
                                ts,
                                proto,
                                konst,
                                base,
                                pc,
                                a,
                                &mut failed,
                            );
                            resync!();
                            if let Some(next) = fused {
                                pc = next.get();
                                fuel.left -= ctx.take_fuel_debt();
                                if let Some(e) = failed {
                                    fail!(e);
                                }
                                allocated!();
                                continue;
                            }
                        }
                        match meta::concat_pair(ctx, reg!(a), reg!(a + 1)) {
                            Ok(Some(s)) => {
                                reg!(a) = Value::String(s);
                                allocated!();
                                continue;
                            }
                            Ok(None) => {}
                            Err(e) => fail!(e),
                        }
                    }
                    save_pc!();
                    let depth = ts.frames.len();
                    match meta::concat(ctx, thread, ts, base + a as usize, n as usize) {
                        Ok(Flow::Continue) if ts.frames.len() == depth => {
                            resync!();
                            allocated!();
                        }
                        flow @ Ok(_) => break 'ops flow,
                        Err(e) => break 'ops Err(e),
                    }
                }

                Op::Close { a } => {
                    let from = base + a as usize;
                    if open_from(&ts.open_upvals, from) {
                        ts.close_upvals(ctx.mc, from);
                        resync!();
                    }
                    if ts.tbc.last().is_some_and(|&i| i >= from) {
                        // This instruction runs again once the `__close` call returns.
                        save_pc!();
                        slow!(close_one(ctx, thread, ts, Value::Nil));
                    }
                }
                Op::Tbc { a } => {
                    let v = reg!(a);
                    if v.is_truthy() {
                        if metamethod(ctx, v, MetaEvent::Close).is_nil() {
                            save_pc!();
                            let name = tbc_name(proto, pc, a);
                            fail!(Error::runtime(alloc::format!(
                                "variable '{name}' got a non-closable value"
                            )));
                        }
                        ts.tbc.push(base + a as usize);
                    }
                }
                Op::Jmp { off } => {
                    jump!(off);
                }
                Op::Eq { a, b, k, off } => {
                    let (x, y) = (reg!(a), reg!(b));
                    let r = match (x, y) {
                        (Value::Table(_), Value::Table(_))
                        | (Value::UserData(_), Value::UserData(_)) => {
                            save_pc!();
                            match meta::equal(ctx, thread, ts, x, y, k, off) {
                                Ok(Some(r)) => {
                                    resync!();
                                    r
                                }
                                Ok(None) => continue 'frames,
                                Err(e) => break 'ops Err(e),
                            }
                        }
                        _ => x.raw_eq(y),
                    };
                    if r == k {
                        jump!(off);
                    }
                }
                Op::Lt { a, b, k, off } => compare!(reg!(a), reg!(b), false, k, off),
                Op::Le { a, b, k, off } => compare!(reg!(a), reg!(b), true, k, off),
                Op::EqK { a, c, k, off } => {
                    if reg!(a).raw_eq(*at(konst, c as usize)) == k {
                        jump!(off);
                    }
                }
                Op::EqI { a, i, k, off } => {
                    let r = match reg!(a) {
                        Value::Integer(x) => x == i as i64,
                        Value::Float(x) => x == i as f64,
                        _ => false,
                    };
                    if r == k {
                        jump!(off);
                    }
                }
                Op::LtI { a, i, k, off } => {
                    if let Value::Integer(x) = reg!(a) {
                        if (x < i as i64) == k {
                            jump!(off);
                        }
                    } else {
                        compare!(reg!(a), Value::Integer(i as i64), false, k, off)
                    }
                }
                Op::LeI { a, i, k, off } => {
                    if let Value::Integer(x) = reg!(a) {
                        if (x <= i as i64) == k {
                            jump!(off);
                        }
                    } else {
                        compare!(reg!(a), Value::Integer(i as i64), true, k, off)
                    }
                }
                Op::GtI { a, i, k, off } => {
                    if let Value::Integer(x) = reg!(a) {
                        if (x > i as i64) == k {
                            jump!(off);
                        }
                    } else {
                        compare!(Value::Integer(i as i64), reg!(a), false, k, off)
                    }
                }
                Op::GeI { a, i, k, off } => {
                    if let Value::Integer(x) = reg!(a) {
                        if (x >= i as i64) == k {
                            jump!(off);
                        }
                    } else {
                        compare!(Value::Integer(i as i64), reg!(a), true, k, off)
                    }
                }
                Op::Test { a, k, off } => {
                    if reg!(a).is_truthy() == k {
                        jump!(off);
                    }
                }
                Op::TestSet { a, b, k, off } => {
                    let v = reg!(b);
                    if v.is_truthy() == k {
                        reg!(a) = v;
                        jump!(off);
                    }
                }

                Op::Call { a, b, c } => {
                    let func = base + a as usize;
                    let nargs = if b != 0 {
                        b as usize - 1
                    } else {
                        count_to_top(stack.len(), top, func + 1)
                    };
                    let want = c as i32 - 1;
                    // Inline, unlike `save_pc!`: a call instruction is too hot for a function call.
                    if let Some(Frame::Lua(f)) = ts.frames.last_mut() {
                        f.pc = pc as u32;
                        f.top = top as u32;
                    }
                    match *at(stack, func) {
                        Value::Function(Function::Lua(callee)) => {
                            let p = &callee.0.proto.plain;
                            let new_base = func + 1;
                            if !p.is_vararg
                                && nargs == p.num_params as usize
                                && new_base + p.max_stack as usize <= stack.len()
                                && ts.frames.len() < MAX_FRAMES
                            {
                                // The common call: exact arguments, room already there.
                                ts.frames.push(Frame::Lua(LuaFrame {
                                    closure: callee,
                                    base: new_base as u32,
                                    pc: 0,
                                    func: func as u32,
                                    varargs: 0,
                                    top: new_base as u32,
                                    ret: RetMode::Normal { want },
                                    tail: false,
                                }));
                            } else if let Err(e) = push_lua_frame(
                                ctx,
                                ts,
                                callee,
                                func,
                                nargs,
                                RetMode::Normal { want },
                                false,
                            ) {
                                break 'ops Err(e);
                            }
                            continue 'frames;
                        }
                        Value::Function(Function::Native(n)) => {
                            ts.stack.truncate(func + 1 + nargs);
                            let depth = ts.frames.len();
                            match call_native(ctx, thread, ts, n, func, RetMode::Normal { want }) {
                                // Stay in this frame when the native simply returned.
                                Ok(Flow::Continue) if ts.frames.len() == depth => {
                                    if want < 0 {
                                        if let Some(Frame::Lua(f)) = ts.frames.last() {
                                            top = f.top as usize;
                                        }
                                    }
                                    if trap != ts.hooks.hook.is_some() {
                                        save_pc!();
                                        return Ok(None);
                                    }
                                    if ctx.gc_requested() {
                                        // Let the driver collect before going on.
                                        save_pc!();
                                        return Ok(Some(Exit::Fuel));
                                    }
                                    resync!();
                                    allocated!();
                                }
                                flow @ Ok(_) => break 'ops flow,
                                Err(e) => break 'ops Err(e),
                            }
                        }
                        _ => slow!(call_value(
                            ctx,
                            thread,
                            ts,
                            func,
                            nargs,
                            RetMode::Normal { want },
                            Src::Reg(a),
                            false
                        )),
                    }
                }
                Op::TailCall { a, b } => {
                    let func = base + a as usize;
                    let mut nargs = if b != 0 {
                        b as usize - 1
                    } else {
                        count_to_top(stack.len(), top, func + 1)
                    };
                    save_pc!();
                    // Resolve `__call` while this frame still exists to be blamed.
                    while !matches!(*at(&ts.stack, func), Value::Function(_)) {
                        let f = *at(&ts.stack, func);
                        let tm = metamethod(ctx, f, MetaEvent::Call);
                        if tm.is_nil() {
                            let e = super::call::call_error(ctx, ts, f, Src::Reg(a));
                            break 'ops Err(e);
                        }
                        // Nothing above the arguments is live: drop it before shifting.
                        ts.stack.truncate(func + 1 + nargs);
                        ts.stack.insert(func, tm);
                        nargs += 1;
                    }
                    match *at(&ts.stack, func) {
                        Value::Function(Function::Lua(callee)) => {
                            if open_from(&ts.open_upvals, base) {
                                ts.close_upvals(ctx.mc, base);
                            }
                            let Some(Frame::Lua(me)) = ts.frames.pop() else {
                                unreachable!("running a Lua frame")
                            };
                            ts.stack
                                .copy_within(func..func + 1 + nargs, me.func as usize);
                            if let Err(e) = push_lua_frame(
                                ctx,
                                ts,
                                callee,
                                me.func as usize,
                                nargs,
                                me.ret,
                                true,
                            ) {
                                ts.frames.push(Frame::Lua(me));
                                break 'ops Err(e);
                            }
                            continue 'frames;
                        }
                        _ => {
                            // A native runs as a normal call; the `Return` after this
                            // instruction hands its results on.
                            let depth = ts.frames.len();
                            let Value::Function(Function::Native(n)) = *at(&ts.stack, func) else {
                                unreachable!("resolved to a function above")
                            };
                            ts.stack.truncate(func + 1 + nargs);
                            match call_native(
                                ctx,
                                thread,
                                ts,
                                n,
                                func,
                                RetMode::Normal { want: -1 },
                            ) {
                                Ok(Flow::Continue) if ts.frames.len() == depth => {
                                    if let Some(Frame::Lua(f)) = ts.frames.last() {
                                        top = f.top as usize;
                                    }
                                    save_pc!();
                                    resync!();
                                }
                                flow @ Ok(_) => break 'ops flow,
                                Err(e) => break 'ops Err(e),
                            }
                        }
                    }
                }
                Op::Return { a, b } => {
                    let from = base + a as usize;
                    let n = if b != 0 {
                        b as usize - 1
                    } else {
                        count_to_top(stack.len(), top, from)
                    };
                    if ts.tbc.last().is_some_and(|&i| i >= base) {
                        top = from + n;
                        save_pc!();
                        slow!(close_one(ctx, thread, ts, Value::Nil));
                    }
                    if trap {
                        save_pc!();
                        match super::hook::before_return(
                            ctx,
                            thread,
                            ts,
                            pc,
                            ((from - base + 1) as u32, n as u32),
                        ) {
                            Ok(None) => {}
                            Ok(Some(flow)) => break 'ops Ok(flow),
                            Err(e) => break 'ops Err(e),
                        }
                    }
                    if open_from(&ts.open_upvals, base) {
                        ts.close_upvals(ctx.mc, base);
                    }
                    let Some(Frame::Lua(me)) = ts.frames.pop() else {
                        unreachable!("running a Lua frame")
                    };
                    slow!(finish_call(
                        ctx,
                        thread,
                        ts,
                        me.ret,
                        me.func as usize,
                        from,
                        n
                    ));
                }
                Op::Return0 => {
                    if ts.tbc.last().is_some_and(|&i| i >= base) {
                        save_pc!();
                        slow!(close_one(ctx, thread, ts, Value::Nil));
                    }
                    if trap {
                        save_pc!();
                        match super::hook::before_return(ctx, thread, ts, pc, (1, 0)) {
                            Ok(None) => {}
                            Ok(Some(flow)) => break 'ops Ok(flow),
                            Err(e) => break 'ops Err(e),
                        }
                    }
                    if open_from(&ts.open_upvals, base) {
                        ts.close_upvals(ctx.mc, base);
                    }
                    let Some(Frame::Lua(me)) = ts.frames.pop() else {
                        unreachable!("running a Lua frame")
                    };
                    slow!(finish_call(
                        ctx,
                        thread,
                        ts,
                        me.ret,
                        me.func as usize,
                        base,
                        0
                    ));
                }
                Op::Return1 { a } => {
                    if ts.tbc.last().is_some_and(|&i| i >= base) {
                        save_pc!();
                        slow!(close_one(ctx, thread, ts, Value::Nil));
                    }
                    if trap {
                        save_pc!();
                        match super::hook::before_return(ctx, thread, ts, pc, (a as u32 + 1, 1)) {
                            Ok(None) => {}
                            Ok(Some(flow)) => break 'ops Ok(flow),
                            Err(e) => break 'ops Err(e),
                        }
                        resync!();
                    }
                    if open_from(&ts.open_upvals, base) {
                        ts.close_upvals(ctx.mc, base);
                        resync!();
                    }
                    let Some(Frame::Lua(me)) = ts.frames.pop() else {
                        unreachable!("running a Lua frame")
                    };
                    if let (RetMode::Normal { want: 1 }, Some(Frame::Lua(_))) =
                        (me.ret, ts.frames.last())
                    {
                        *at_mut(stack, me.func as usize) = reg!(a);
                        if trap {
                            super::hook::returned_to(ts);
                        }
                        continue 'frames;
                    }
                    slow!(finish_call(
                        ctx,
                        thread,
                        ts,
                        me.ret,
                        me.func as usize,
                        base + a as usize,
                        1
                    ));
                }

                Op::ForPrep { a, off } => {
                    save_pc!();
                    match for_prep(ctx, stack, base + a as usize) {
                        Ok(true) => {}
                        Ok(false) => pc = (pc as i64 + off as i64) as usize,
                        Err(e) => break 'ops Err(e),
                    }
                }
                Op::ForLoop { a, off } => {
                    let ra = base + a as usize;
                    // The integer loop, its four registers checked once.
                    let r = at_mut(stack, ra..ra + 4);
                    if let [Value::Integer(i), Value::Integer(count), Value::Integer(step), _] = *r
                    {
                        if count != 0 {
                            r[1] = Value::Integer((count as u64 - 1) as i64);
                            let next = Value::Integer(i.wrapping_add(step));
                            r[0] = next;
                            r[3] = next;
                            jump!(off);
                        }
                    } else {
                        let (Value::Float(i), Value::Float(limit), Value::Float(step)) =
                            (*at(stack, ra), *at(stack, ra + 1), *at(stack, ra + 2))
                        else {
                            // Only hand-made bytecode gets here: ForPrep leaves numbers.
                            fail!(Error::runtime("'for' loop state is not numeric"));
                        };
                        let next = i + step;
                        let go_on = if step > 0.0 {
                            next <= limit
                        } else {
                            limit <= next
                        };
                        if go_on {
                            *at_mut(stack, ra) = Value::Float(next);
                            *at_mut(stack, ra + 3) = Value::Float(next);
                            jump!(off);
                        }
                    }
                }
                Op::TForPrep { a, off } => {
                    let v = reg!(a + 3);
                    if v.is_truthy() {
                        if metamethod(ctx, v, MetaEvent::Close).is_nil() {
                            fail!(Error::runtime(
                                "variable '(for state)' got a non-closable value"
                            ));
                        }
                        ts.tbc.push(base + a as usize + 3);
                    }
                    pc = (pc as i64 + off as i64) as usize;
                }
                Op::TForCall { a, c } => {
                    let ra = base + a as usize;
                    if stack.len() < ra + 7 {
                        ts.stack.resize(ra + 7, Value::Nil);
                        resync!();
                    }
                    stack.copy_within(ra..ra + 3, ra + 4);
                    save_pc!();
                    let want = c as i32;
                    match *at(stack, ra + 4) {
                        Value::Function(Function::Native(n))
                            if n.is(crate::external::next_native) =>
                        {
                            // `pairs` loops: `next` in place, no call.
                            let (t, k) = (*at(stack, ra + 5), *at(stack, ra + 6));
                            // External tables take the call: their entries are the host's.
                            let own = match t {
                                Value::Table(t) if t.external_id().is_none() => Some(t),
                                _ => None,
                            };
                            if let Some(t) = own {
                                match t.next(k) {
                                    Ok(Some((k, v))) => {
                                        *at_mut(stack, ra + 4) = k;
                                        if want > 1 {
                                            *at_mut(stack, ra + 5) = v;
                                        }
                                    }
                                    Ok(None) => *at_mut(stack, ra + 4) = Value::Nil,
                                    Err(()) => fail!(Error::runtime("invalid key to 'next'")),
                                }
                                for i in 2..want.max(2) as usize {
                                    *at_mut(stack, ra + 4 + i) = Value::Nil;
                                }
                                continue;
                            }
                            slow!(call_value(
                                ctx,
                                thread,
                                ts,
                                ra + 4,
                                2,
                                RetMode::Normal { want },
                                Src::None,
                                false
                            ));
                        }
                        _ => slow!(call_value(
                            ctx,
                            thread,
                            ts,
                            ra + 4,
                            2,
                            RetMode::Normal { want },
                            Src::None,
                            false
                        )),
                    }
                }
                Op::TForLoop { a, off } => {
                    let ra = base + a as usize;
                    let v = *at(stack, ra + 4);
                    if !v.is_nil() {
                        *at_mut(stack, ra + 2) = v;
                        jump!(off);
                    }
                }

                Op::SetList { a, n, start } => {
                    let ra = base + a as usize;
                    let count = if n == 0 {
                        count_to_top(stack.len(), top, ra + 1)
                    } else {
                        n as usize
                    };
                    if let Value::Table(t) = *at(stack, ra) {
                        let values = at(stack, ra + 1..ra + 1 + count);
                        let room = ctx.alloc_room();
                        if t.state_mut(ctx.mc)
                            .set_list(start as usize, values, room)
                            .is_err()
                        {
                            fail!(ctx.memory_error());
                        }
                    }
                }
                Op::Closure { a, p } => {
                    let child = *at(&proto.protos, p as usize);
                    let mut ups = alloc::vec::Vec::with_capacity(child.plain.upvalues.len());
                    for d in child.plain.upvalues.iter() {
                        ups.push(if d.in_stack {
                            ts.find_upval(ctx.mc, thread, base + d.index as usize)
                        } else {
                            *at(upvals, d.index as usize)
                        });
                    }
                    resync!();
                    reg!(a) = Value::from(LuaClosure::new(ctx.mc, child, ups.into_boxed_slice()));
                    allocated!();
                }
                Op::VarArg { a, c } => {
                    let n = varargs;
                    let ra = base + a as usize;
                    if c == 0 {
                        let need = ra + n;
                        if need > ctx.max_stack() {
                            fail!(Error::runtime("stack overflow"));
                        }
                        if stack.len() < need {
                            let more = need - stack.len();
                            if let Err(e) = ts.reserve_stack(ctx, more) {
                                fail!(e);
                            }
                            ts.stack.resize(need, Value::Nil);
                            resync!();
                        }
                        stack.copy_within(base - n..base, ra);
                        top = ra + n;
                    } else {
                        let want = c as usize - 1;
                        for i in 0..want {
                            *at_mut(stack, ra + i) = if i < n {
                                *at(stack, base - n + i)
                            } else {
                                Value::Nil
                            };
                        }
                    }
                }
            }
        };
        match outcome {
            Ok(Flow::Continue) => continue 'frames,
            Ok(Flow::Exit(exit)) => return Ok(Some(exit)),
            Err(e) => return Err(located(ctx, ts, e)),
        }
    }
}

/// Sets the registers above the locals active at `pc` to nil, so that dead temporaries do
/// not keep garbage alive (lua5.4 marks the stack only up to its top). Call it only where
/// no temporary is live: at the target of a backward jump.
fn clear_dead_registers(
    stack: &mut [Value<'_>],
    base: usize,
    proto: &crate::function::Proto<'_>,
    pc: usize,
) {
    let p = &proto.plain;
    if p.lines.is_empty() {
        // Stripped: which locals are active is unknown.
        return;
    }
    let live = p
        .locals
        .iter()
        .filter(|l| (l.start_pc as usize) <= pc && pc < l.end_pc as usize)
        .map(|l| l.reg as usize + 1)
        .max()
        .unwrap_or(0);
    let end = (base + p.max_stack as usize).min(stack.len());
    for slot in stack
        .iter_mut()
        .take(end)
        .skip(base + live.max(p.num_params as usize))
    {
        *slot = Value::Nil;
    }
}

/// Whether an upvalue is open on a stack slot from `from` on.
#[inline]
fn open_from(open_upvals: &[(usize, Upval<'_>)], from: usize) -> bool {
    open_upvals.last().is_some_and(|(i, _)| *i >= from)
}

/// How many values lie from `first` up to the top set by the previous instruction (never
/// past the stack, whatever the bytecode).
#[inline]
fn count_to_top(len: usize, top: usize, first: usize) -> usize {
    top.min(len).saturating_sub(first)
}

/// Raw assignment when no metamethod can be involved and the table need not grow. Otherwise
/// `Err(Some(id))` for external table `id` (found on the way, so not looked up again), or
/// `Err(None)`: take the slow path.
#[inline]
fn try_set<'gc>(
    ctx: Ctx<'gc>,
    t: Table<'gc>,
    key: Value<'gc>,
    v: Value<'gc>,
) -> Result<(), Option<u32>> {
    let mut st = t.state_mut(ctx.mc);
    if st.metatable().is_some() {
        // An external table has no entries of its own to look at.
        if let Some(id) = st.external_id() {
            return Err(Some(id));
        }
        if st.get(key).is_nil() {
            return Err(None);
        }
    }
    match key {
        Value::Integer(i) => st.try_set_int(i, v, 0),
        _ => st.try_set(key, v, 0),
    }
    .map_err(|_| None)
}

#[inline]
fn try_set_str<'gc>(
    ctx: Ctx<'gc>,
    t: Table<'gc>,
    key: crate::string::LuaStr<'gc>,
    v: Value<'gc>,
) -> bool {
    let mut st = t.state_mut(ctx.mc);
    if st.metatable().is_some() && (st.external_id().is_some() || st.get_str(key).is_nil()) {
        return false;
    }
    st.try_set_str(key, v, 0).is_ok()
}

/// The name of the to-be-closed variable in register `a` for messages.
fn tbc_name(proto: &crate::function::Proto<'_>, pc: usize, a: u8) -> alloc::string::String {
    proto
        .plain
        .locals
        .iter()
        .rfind(|l| l.reg == a && (l.start_pc as usize) <= pc)
        .map(|l| alloc::string::String::from_utf8_lossy(&l.name).into_owned())
        .unwrap_or_else(|| "?".into())
}

/// Calls `__close` of the newest to-be-closed variable (`error`: nil on normal exit).
fn close_one<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    error: Value<'gc>,
) -> Result<Flow<'gc>, Error<'gc>> {
    let idx = ts.tbc.pop().expect("a to-be-closed variable");
    if open_from(&ts.open_upvals, idx) {
        ts.close_upvals(ctx.mc, idx);
    }
    let v = ts.stack[idx];
    let tm = metamethod(ctx, v, MetaEvent::Close);
    if tm.is_nil() {
        return Err(Error::runtime(alloc::format!(
            "metamethod 'close' of a {} value is missing",
            v.type_name()
        )));
    }
    let at = scratch_top(ts);
    ts.stack.resize(at, Value::Nil);
    ts.stack.extend_from_slice(&[tm, v, error]);
    call_value(ctx, thread, ts, at, 2, RetMode::Reexecute, Src::None, false)
}

/// `bad 'for' limit (number expected, got string)`.
fn for_error<'gc>(ctx: Ctx<'gc>, v: Value<'gc>, what: &str) -> Error<'gc> {
    Error::runtime(alloc::format!(
        "bad 'for' {what} (number expected, got {})",
        super::native::type_name_for_message(ctx, v)
    ))
}

/// Prepares a numeric for loop at `stack[ra..ra+4]`; `false` when it runs zero times.
fn for_prep<'gc>(ctx: Ctx<'gc>, stack: &mut [Value<'gc>], ra: usize) -> Result<bool, Error<'gc>> {
    let (init, limit, step) = (stack[ra], stack[ra + 1], stack[ra + 2]);
    if let (Value::Integer(i), Value::Integer(s)) = (init, step) {
        if s == 0 {
            return Err(Error::runtime("'for' step is zero"));
        }
        let Some(l) = for_limit(ctx, limit, s)? else {
            return Ok(false);
        };
        if if s > 0 { i > l } else { i < l } {
            return Ok(false);
        }
        // The iteration count, computed in unsigned arithmetic so it cannot overflow.
        let count = if s > 0 {
            (l as u64).wrapping_sub(i as u64) / s as u64
        } else {
            let s1 = (-(s + 1)) as u64 + 1;
            (i as u64).wrapping_sub(l as u64) / s1
        };
        stack[ra + 1] = Value::Integer(count as i64);
        stack[ra + 3] = Value::Integer(i);
        return Ok(true);
    }
    let num = |v: Value<'gc>, what: &str| -> Result<f64, Error<'gc>> {
        match super::native::to_number(v) {
            Some(number::Number::Int(i)) => Ok(i as f64),
            Some(number::Number::Float(f)) => Ok(f),
            None => Err(for_error(ctx, v, what)),
        }
    };
    let l = num(limit, "limit")?;
    let s = num(step, "step")?;
    let i = num(init, "initial value")?;
    if s == 0.0 {
        return Err(Error::runtime("'for' step is zero"));
    }
    if if s > 0.0 { l < i } else { i < l } {
        return Ok(false);
    }
    stack[ra] = Value::Float(i);
    stack[ra + 1] = Value::Float(l);
    stack[ra + 2] = Value::Float(s);
    stack[ra + 3] = Value::Float(i);
    Ok(true)
}

/// The integer limit of an integer loop (floats clipped toward the loop's direction);
/// `None` when the loop cannot run.
fn for_limit<'gc>(ctx: Ctx<'gc>, limit: Value<'gc>, step: i64) -> Result<Option<i64>, Error<'gc>> {
    let f = match super::native::to_number(limit) {
        Some(number::Number::Int(i)) => return Ok(Some(i)),
        Some(number::Number::Float(f)) => f,
        None => return Err(for_error(ctx, limit, "limit")),
    };
    if f.is_nan() {
        return Ok(None);
    }
    let clipped = if step > 0 {
        libm::floor(f)
    } else {
        libm::ceil(f)
    };
    Ok(Some(match float_to_int(clipped) {
        Some(i) => i,
        None if f > 0.0 => {
            if step < 0 {
                return Ok(None);
            }
            i64::MAX
        }
        None => {
            if step > 0 {
                return Ok(None);
            }
            i64::MIN
        }
    }))
}
