//! The `table` library. Elements are read and written as Lua code would (`__index`,
//! `__newindex`, `__len`, like lua5.4's `lua_geti`/`lua_seti`), so each function is a small
//! resumable loop: its position lives in its argument slots, and a metamethod call returns
//! to the loop through a continuation whose state word names the step that gets the result.

mod sort;

use alloc::format;
use alloc::vec::Vec;

use vm::lib::{
    append, bug, charge_bytes, event_of, key_error, metatable_of, tostring_plain, Action, Cont,
    ContFn, Error, MetaEvent, NativeCall, Outcome,
};
use vm::state::Ctx;
use vm::table::Table;
use vm::value::Value;

use super::access::{self, ready, result_of, stash, take, to_length, Flow};

use super::register_lib;

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// Registers `table`.
pub fn open(ctx: Ctx<'_>) {
    register_lib(
        ctx,
        "table",
        &[
            ("concat", concat),
            ("insert", insert),
            ("move", move_),
            ("pack", pack),
            ("remove", remove),
            ("sort", sort::sort),
            ("unpack", unpack),
        ],
    );
}

/// What a function does with its table argument, for [`check_table`].
const READ: u8 = 1;
const WRITE: u8 = 2;
const LENGTH: u8 = 4;

/// A table, or a value whose metatable has the metamethods the function needs (`checktab`).
fn check_table<'gc>(
    ctx: Ctx<'gc>,
    call: &NativeCall<'_, 'gc>,
    i: usize,
    needs: u8,
) -> Result<(), Error<'gc>> {
    let v = call.arg(i);
    if let Value::Table(_) = v {
        return Ok(());
    }
    if let Some(mt) = metatable_of(ctx, v) {
        let has = |name: &[u8]| !mt.get_str(ctx.intern(name)).is_nil();
        if (needs & READ == 0 || has(b"__index"))
            && (needs & WRITE == 0 || has(b"__newindex"))
            && (needs & LENGTH == 0 || has(b"__len"))
        {
            return Ok(());
        }
    }
    Err(call.type_err(ctx, i, "table"))
}

/// `v` as a table whose reads and writes need no metamethod: loops over it run without
/// stepping through the resumable path.
fn plain<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Option<Table<'gc>> {
    let Value::Table(t) = v else {
        return None;
    };
    match t.metatable() {
        None => Some(t),
        Some(mt) => (event_of(ctx, mt, MetaEvent::Index).is_nil()
            && event_of(ctx, mt, MetaEvent::NewIndex).is_nil())
        .then_some(t),
    }
}

/// An integer a function keeps in one of its slots.
fn int(call: &NativeCall<'_, '_>, slot: usize) -> i64 {
    match call.arg(slot) {
        Value::Integer(n) => n,
        _ => bug(), // the slot holds an integer
    }
}

/// The continuation that resumes `run` at the step in its state word with the call's result.
fn resume<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
    run: fn(Ctx<'gc>, &mut NativeCall<'_, 'gc>, i64, Value<'gc>) -> R<'gc>,
) -> R<'gc> {
    let v = result_of(call, outcome);
    let step = call.state();
    run(ctx, call, step, v)
}

fn then(f: ContFn, step: i64) -> Cont {
    Cont::with_state(f, step)
}

/// Slots of `insert`: its arguments, the position, the index being filled.
mod insert_slot {
    pub const TABLE: usize = 0;
    pub const NARGS: usize = 3;
    pub const POS: usize = 4;
    pub const INDEX: usize = 5;
    pub const ALL: usize = 6;
}

/// Steps of `insert`, each named after the result it receives.
mod insert_step {
    pub const START: i64 = 0;
    pub const LENGTH: i64 = 1;
    pub const SHIFT: i64 = 2;
    pub const READ: i64 = 3;
    pub const WRITTEN: i64 = 4;
    pub const DONE: i64 = 5;
}

fn insert<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    check_table(ctx, call, 0, READ | WRITE | LENGTH)?;
    let nargs = call.nargs() as i64;
    call.set_nargs(insert_slot::ALL);
    call.set_arg(insert_slot::NARGS, Value::Integer(nargs));
    insert_run(ctx, call, insert_step::START, Value::Nil)
}

fn insert_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    resume(ctx, call, o, insert_run)
}

fn insert_run<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut step: i64,
    mut v: Value<'gc>,
) -> R<'gc> {
    use insert_slot as slot;
    use insert_step::*;
    let t = call.arg(slot::TABLE);
    loop {
        match step {
            START => {
                v = ready!(access::length(ctx, call, t, then(insert_cont, LENGTH))?);
                step = LENGTH;
            }
            LENGTH => {
                let end = to_length(v)?.wrapping_add(1);
                let pos = match int(call, slot::NARGS) {
                    2 => end,
                    3 => {
                        let pos = call.check_integer(ctx, 1)?;
                        if (pos as u64).wrapping_sub(1) >= end as u64 {
                            return Err(Error::bad_arg(2, "position out of bounds"));
                        }
                        pos
                    }
                    _ => return Err(Error::runtime("wrong number of arguments to 'insert'")),
                };
                call.set_arg(slot::POS, Value::Integer(pos));
                call.set_arg(slot::INDEX, Value::Integer(end));
                step = SHIFT;
            }
            SHIFT => {
                let (i, pos) = (int(call, slot::INDEX), int(call, slot::POS));
                if let (Some(table), true) = (plain(ctx, t), i > pos) {
                    let room = ctx.alloc_room();
                    let mut state = table.state_mut(ctx.mc);
                    // Only the first write (past the end) can grow the table.
                    for k in (pos + 1..=i).rev() {
                        let moved = state.get_int(k - 1);
                        state
                            .try_set_int(k, moved, room)
                            .map_err(|e| key_error(ctx, e))?;
                    }
                    call.set_arg(slot::INDEX, Value::Integer(pos));
                } else if i > pos {
                    let key = Value::Integer(i - 1);
                    v = ready!(access::get(ctx, call, t, key, then(insert_cont, READ))?);
                    step = READ;
                } else {
                    let value = call.arg(int(call, slot::NARGS) as usize - 1);
                    let key = Value::Integer(pos);
                    ready!(access::set(
                        ctx,
                        call,
                        t,
                        key,
                        value,
                        then(insert_cont, DONE)
                    )?);
                    step = DONE;
                }
            }
            READ => {
                let key = Value::Integer(int(call, slot::INDEX));
                ready!(access::set(
                    ctx,
                    call,
                    t,
                    key,
                    v,
                    then(insert_cont, WRITTEN)
                )?);
                step = WRITTEN;
            }
            WRITTEN => {
                let i = int(call, slot::INDEX);
                call.set_arg(slot::INDEX, Value::Integer(i - 1));
                step = SHIFT;
            }
            _ => return call.ret0(),
        }
    }
}

/// Slots of `remove`: its arguments, the length, the index being filled, the result.
mod remove_slot {
    pub const TABLE: usize = 0;
    pub const POS_ARG: usize = 1;
    pub const SIZE: usize = 2;
    pub const INDEX: usize = 3;
    pub const RESULT: usize = 4;
    pub const ALL: usize = 5;
}

mod remove_step {
    pub const START: i64 = 0;
    pub const LENGTH: i64 = 1;
    pub const REMOVED: i64 = 2;
    pub const SHIFT: i64 = 3;
    pub const READ: i64 = 4;
    pub const WRITTEN: i64 = 5;
    pub const DONE: i64 = 6;
}

fn remove<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    check_table(ctx, call, 0, READ | WRITE | LENGTH)?;
    call.set_nargs(remove_slot::ALL);
    remove_run(ctx, call, remove_step::START, Value::Nil)
}

fn remove_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    resume(ctx, call, o, remove_run)
}

fn remove_run<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut step: i64,
    mut v: Value<'gc>,
) -> R<'gc> {
    use remove_slot as slot;
    use remove_step::*;
    let t = call.arg(slot::TABLE);
    loop {
        match step {
            START => {
                v = ready!(access::length(ctx, call, t, then(remove_cont, LENGTH))?);
                step = LENGTH;
            }
            LENGTH => {
                let size = to_length(v)?;
                let pos = call.opt_integer(ctx, slot::POS_ARG, size)?;
                // lua5.4.4 names the table argument in this message.
                if pos != size && (pos as u64).wrapping_sub(1) > size as u64 {
                    return Err(Error::bad_arg(1, "position out of bounds"));
                }
                call.set_arg(slot::SIZE, Value::Integer(size));
                call.set_arg(slot::INDEX, Value::Integer(pos));
                let key = Value::Integer(pos);
                v = ready!(access::get(ctx, call, t, key, then(remove_cont, REMOVED))?);
                step = REMOVED;
            }
            REMOVED => {
                call.set_arg(slot::RESULT, v);
                step = SHIFT;
            }
            SHIFT => {
                let (i, size) = (int(call, slot::INDEX), int(call, slot::SIZE));
                if let (Some(table), true) = (plain(ctx, t), i < size) {
                    let mut state = table.state_mut(ctx.mc);
                    for k in i..size {
                        let moved = state.get_int(k + 1);
                        state.set_int(k, moved);
                    }
                    call.set_arg(slot::INDEX, Value::Integer(size));
                } else if i < size {
                    let key = Value::Integer(i + 1);
                    v = ready!(access::get(ctx, call, t, key, then(remove_cont, READ))?);
                    step = READ;
                } else {
                    let key = Value::Integer(i);
                    let hole = Value::Nil;
                    ready!(access::set(
                        ctx,
                        call,
                        t,
                        key,
                        hole,
                        then(remove_cont, DONE)
                    )?);
                    step = DONE;
                }
            }
            READ => {
                let key = Value::Integer(int(call, slot::INDEX));
                ready!(access::set(
                    ctx,
                    call,
                    t,
                    key,
                    v,
                    then(remove_cont, WRITTEN)
                )?);
                step = WRITTEN;
            }
            WRITTEN => {
                let i = int(call, slot::INDEX);
                call.set_arg(slot::INDEX, Value::Integer(i + 1));
                step = SHIFT;
            }
            _ => return call.ret1(call.arg(slot::RESULT)),
        }
    }
}

/// Slots of `concat`: its arguments, the result so far (while waiting), the index, the end.
mod concat_slot {
    pub const TABLE: usize = 0;
    pub const SEP: usize = 1;
    pub const FIRST: usize = 2;
    pub const LAST_ARG: usize = 3;
    pub const BUFFER: usize = 4;
    pub const INDEX: usize = 5;
    pub const LAST: usize = 6;
    pub const ALL: usize = 7;
}

mod concat_step {
    pub const START: i64 = 0;
    pub const LENGTH: i64 = 1;
    pub const NEXT: i64 = 2;
    pub const READ: i64 = 3;
}

fn concat<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    check_table(ctx, call, 0, READ | LENGTH)?;
    call.set_nargs(concat_slot::ALL);
    concat_run(ctx, call, concat_step::START, Value::Nil)
}

fn concat_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    resume(ctx, call, o, concat_run)
}

fn concat_run<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut step: i64,
    mut v: Value<'gc>,
) -> R<'gc> {
    use concat_slot as slot;
    use concat_step::*;
    let t = call.arg(slot::TABLE);
    let mut buf: Vec<u8> = take(call, slot::BUFFER);
    loop {
        match step {
            START => {
                v = ready!(access::length(ctx, call, t, then(concat_cont, LENGTH))?);
                step = LENGTH;
            }
            LENGTH => {
                let length = to_length(v)?;
                if call.arg(slot::SEP).is_nil() {
                    call.set_arg(slot::SEP, ctx.str_value(b""));
                } else {
                    call.check_string(ctx, slot::SEP)?;
                }
                let first = call.opt_integer(ctx, slot::FIRST, 1)?;
                let last = call.opt_integer(ctx, slot::LAST_ARG, length)?;
                call.set_arg(slot::INDEX, Value::Integer(first));
                call.set_arg(slot::LAST, Value::Integer(last));
                step = NEXT;
            }
            NEXT => {
                let (i, last) = (int(call, slot::INDEX), int(call, slot::LAST));
                if i > last {
                    return call.ret1(ctx.str_value(&buf));
                }
                if let Some(table) = plain(ctx, t) {
                    let Value::String(sep) = call.arg(slot::SEP) else {
                        bug() // concat checked its separator
                    };
                    let (first, copied) = (i, buf.len());
                    let mut i = i;
                    let turn = i.saturating_add(CONCAT_TURN);
                    // A piece costs an instruction, and its bytes their copy.
                    let charge = |i: i64, buf: &Vec<u8>| {
                        ctx.charge_fuel(i - first);
                        charge_bytes(ctx, buf.len() - copied);
                    };
                    loop {
                        append_field(ctx, &mut buf, table.get_int(i), i)?;
                        if i == last {
                            charge(i, &buf);
                            return call.ret1(ctx.str_value(&buf));
                        }
                        append(ctx, &mut buf, sep.as_bytes())?;
                        i += 1;
                        if i == turn {
                            // A long concatenation gives the interpreter its turn.
                            charge(i, &buf);
                            call.set_arg(slot::INDEX, Value::Integer(i));
                            stash(ctx, call, slot::BUFFER, buf);
                            return Ok(Action::Pause {
                                then: then(concat_cont, NEXT),
                            });
                        }
                    }
                }
                let key = Value::Integer(i);
                v = match access::get(ctx, call, t, key, then(concat_cont, READ))? {
                    Flow::Ready(v) => v,
                    Flow::Wait(action) => {
                        stash(ctx, call, slot::BUFFER, buf);
                        return Ok(action);
                    }
                };
                step = READ;
            }
            _ => {
                let (i, last) = (int(call, slot::INDEX), int(call, slot::LAST));
                append_field(ctx, &mut buf, v, i)?;
                if i == last {
                    return call.ret1(ctx.str_value(&buf));
                }
                let Value::String(sep) = call.arg(slot::SEP) else {
                    bug() // concat checked its separator
                };
                append(ctx, &mut buf, sep.as_bytes())?;
                call.set_arg(slot::INDEX, Value::Integer(i + 1));
                step = NEXT;
            }
        }
    }
}

/// Appends element `i` of a table being concatenated: a string or a number.
fn append_field<'gc>(
    ctx: Ctx<'gc>,
    buf: &mut Vec<u8>,
    v: Value<'gc>,
    i: i64,
) -> Result<(), Error<'gc>> {
    match v {
        Value::String(s) => append(ctx, buf, s.as_bytes()),
        // Integers, the common case, without a buffer on the heap each.
        Value::Integer(n) => append(ctx, buf, vm::number::int_digits(n, &mut [0; 20])),
        Value::Float(_) => append(ctx, buf, &tostring_plain(ctx, v)),
        _ => Err(Error::runtime(format!(
            "invalid value ({}) at index {i} in table for 'concat'",
            v.type_name()
        ))),
    }
}

/// Elements `table.concat` joins between two turns of the interpreter.
const CONCAT_TURN: i64 = 1024;

/// Slots of `unpack`: its arguments, the index, the end; the results follow.
mod unpack_slot {
    pub const TABLE: usize = 0;
    pub const FIRST: usize = 1;
    pub const LAST_ARG: usize = 2;
    pub const INDEX: usize = 3;
    pub const LAST: usize = 4;
    pub const RESULTS: usize = 5;
}

mod unpack_step {
    pub const LENGTH: i64 = 0;
    pub const RANGE: i64 = 1;
    pub const NEXT: i64 = 2;
    pub const READ: i64 = 3;
}

fn unpack<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    use unpack_slot as slot;
    let first = call.opt_integer(ctx, slot::FIRST, 1)?;
    let last = match call.arg(slot::LAST_ARG) {
        Value::Nil => None,
        _ => Some(call.check_integer(ctx, slot::LAST_ARG)?),
    };
    call.set_nargs(slot::RESULTS);
    call.set_arg(slot::INDEX, Value::Integer(first));
    match last {
        Some(last) => {
            call.set_arg(slot::LAST, Value::Integer(last));
            unpack_run(ctx, call, unpack_step::RANGE, Value::Nil)
        }
        None => {
            let t = call.arg(slot::TABLE);
            let then = then(unpack_cont, unpack_step::LENGTH);
            let v = ready!(access::length(ctx, call, t, then)?);
            unpack_run(ctx, call, unpack_step::LENGTH, v)
        }
    }
}

fn unpack_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    resume(ctx, call, o, unpack_run)
}

fn unpack_run<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut step: i64,
    mut v: Value<'gc>,
) -> R<'gc> {
    use unpack_slot as slot;
    use unpack_step::*;
    let t = call.arg(slot::TABLE);
    loop {
        match step {
            LENGTH => {
                call.set_arg(slot::LAST, Value::Integer(to_length(v)?));
                step = RANGE;
            }
            RANGE => {
                let (first, last) = (int(call, slot::INDEX), int(call, slot::LAST));
                if first > last {
                    return call.ret0();
                }
                let extra = (last as u64).wrapping_sub(first as u64);
                let used = call.thread_state().stack.len() as u64;
                if extra >= i32::MAX as u64 || used + extra + 1 > ctx.max_stack() as u64 {
                    return Err(Error::runtime("too many results to unpack"));
                }
                call.thread_state().reserve_stack(ctx, extra as usize + 1)?;
                step = NEXT;
            }
            NEXT => {
                let (i, last) = (int(call, slot::INDEX), int(call, slot::LAST));
                if let Some(table) = plain(ctx, t) {
                    for k in i..=last {
                        call.push(table.get_int(k));
                    }
                    return call.ret_from(slot::RESULTS);
                }
                let key = Value::Integer(i);
                v = ready!(access::get(ctx, call, t, key, then(unpack_cont, READ))?);
                step = READ;
            }
            _ => {
                call.push(v);
                let i = int(call, slot::INDEX);
                if i == int(call, slot::LAST) {
                    return call.ret_from(slot::RESULTS);
                }
                call.set_arg(slot::INDEX, Value::Integer(i + 1));
                step = NEXT;
            }
        }
    }
}

fn pack<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let n = call.nargs();
    ctx.check_alloc(n * core::mem::size_of::<Value>())?;
    let t = Table::with_capacity(ctx.mc, n, 1);
    for (i, &v) in call.args().iter().enumerate() {
        t.set_int(ctx.mc, i as i64 + 1, v);
    }
    t.set_str(ctx.mc, ctx.intern(b"n"), Value::Integer(n as i64));
    call.ret1(Value::from(t))
}

/// Slots of `move`: source, range, destination index, destination table, then the
/// progress: elements moved, how many in all, and the direction.
mod move_slot {
    pub const SOURCE: usize = 0;
    pub const FROM: usize = 1;
    pub const TO: usize = 3;
    pub const DEST: usize = 4;
    pub const DONE: usize = 5;
    pub const COUNT: usize = 6;
    pub const BACKWARDS: usize = 7;
    pub const ALL: usize = 8;
}

mod move_step {
    pub const NEXT: i64 = 0;
    pub const READ: i64 = 1;
    pub const WRITTEN: i64 = 2;
}

fn move_<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    use move_slot as slot;
    let from = call.check_integer(ctx, 1)?;
    let end = call.check_integer(ctx, 2)?;
    let to = call.check_integer(ctx, 3)?;
    let dest = if call.arg(slot::DEST).is_nil() {
        slot::SOURCE
    } else {
        slot::DEST
    };
    check_table(ctx, call, slot::SOURCE, READ)?;
    check_table(ctx, call, dest, WRITE)?;
    let (source, dest) = (call.arg(slot::SOURCE), call.arg(dest));
    if end < from {
        return call.ret1(dest);
    }
    if !(from > 0 || end < i64::MAX + from) {
        return Err(Error::bad_arg(3, "too many elements to move"));
    }
    let count = end - from + 1;
    if to > i64::MAX - count + 1 {
        return Err(Error::bad_arg(4, "destination wrap around"));
    }
    // Overlapping moves within one table go backwards, so no element is overwritten first.
    let backwards = !(to > end || to <= from || !source.raw_eq(dest));
    call.set_nargs(slot::ALL);
    call.set_arg(slot::FROM, Value::Integer(from));
    call.set_arg(slot::TO, Value::Integer(to));
    call.set_arg(slot::DEST, dest);
    call.set_arg(slot::DONE, Value::Integer(0));
    call.set_arg(slot::COUNT, Value::Integer(count));
    call.set_arg(slot::BACKWARDS, Value::Boolean(backwards));
    move_run(ctx, call, move_step::NEXT, Value::Nil)
}

fn move_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    resume(ctx, call, o, move_run)
}

fn move_run<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    mut step: i64,
    mut v: Value<'gc>,
) -> R<'gc> {
    use move_slot as slot;
    use move_step::*;
    let (source, dest) = (call.arg(slot::SOURCE), call.arg(slot::DEST));
    let (from, to, count) = (
        int(call, slot::FROM),
        int(call, slot::TO),
        int(call, slot::COUNT),
    );
    let backwards = call.arg(slot::BACKWARDS).is_truthy();
    // The offset of the element being moved.
    let offset = |call: &NativeCall<'_, 'gc>| {
        let done = int(call, slot::DONE);
        if backwards {
            count - 1 - done
        } else {
            done
        }
    };
    loop {
        match step {
            NEXT => {
                if let (Some(src), Some(dst)) = (plain(ctx, source), plain(ctx, dest)) {
                    for done in int(call, slot::DONE)..count {
                        let off = if backwards { count - 1 - done } else { done };
                        let (v, room) = (src.get_int(from + off), ctx.alloc_room());
                        dst.state_mut(ctx.mc)
                            .try_set_int(to + off, v, room)
                            .map_err(|e| key_error(ctx, e))?;
                    }
                    return call.ret1(dest);
                }
                if int(call, slot::DONE) == count {
                    return call.ret1(dest);
                }
                let key = Value::Integer(from + offset(call));
                v = ready!(access::get(ctx, call, source, key, then(move_cont, READ))?);
                step = READ;
            }
            READ => {
                let key = Value::Integer(to + offset(call));
                ready!(access::set(
                    ctx,
                    call,
                    dest,
                    key,
                    v,
                    then(move_cont, WRITTEN)
                )?);
                step = WRITTEN;
            }
            _ => {
                let done = int(call, slot::DONE);
                call.set_arg(slot::DONE, Value::Integer(done + 1));
                step = NEXT;
            }
        }
    }
}
