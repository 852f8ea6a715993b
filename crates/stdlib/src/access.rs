//! Reading, writing and measuring values the way Lua code does (`__index`, `__newindex`,
//! `__len`), from library functions that cannot call Lua recursively.
//!
//! Each operation either completes at once ([`Flow::Ready`]) or sets up the metamethod call
//! above the caller's arguments and hands back the [`Action`] to return ([`Flow::Wait`]);
//! the continuation then reads the result with [`result_of`]. Between calls, a library
//! function keeps its state in its argument slots and in the continuation's state word.

use alloc::format;
use core::cell::RefCell;

use vm::lib::{
    bug, cell_mut, event_of, metamethod, raw_set, to_number, type_name_for_message, Action, Cont,
    Error, MetaEvent, NativeCall, Outcome, MAX_TAG_LOOP,
};
use vm::number::{float_to_int, Number};
use vm::state::Ctx;
use vm::userdata::UserData;
use vm::value::Value;

/// An operation done, or a call to make first.
pub enum Flow<'gc> {
    Ready(Value<'gc>),
    Wait(Action<'gc>),
}

/// The value of a [`Flow`], or returns its action from the enclosing function.
macro_rules! ready {
    ($flow:expr) => {
        match $flow {
            $crate::access::Flow::Ready(v) => v,
            $crate::access::Flow::Wait(action) => return Ok(action),
        }
    };
}
pub(crate) use ready;

type Res<'gc> = Result<Flow<'gc>, Error<'gc>>;

/// Calls `f(args)` above the current arguments; `then` continues with its first result.
pub fn call_function<'gc>(
    call: &mut NativeCall<'_, 'gc>,
    f: Value<'gc>,
    args: &[Value<'gc>],
    then: Cont,
) -> Action<'gc> {
    let at = call.nargs();
    call.push(f);
    call.extend(args);
    Action::Call { at, then }
}

/// The first result of the call a continuation waited for; the call's slots are dropped so
/// the arguments are as they were before it.
pub fn result_of<'gc>(call: &mut NativeCall<'_, 'gc>, outcome: Outcome<'gc>) -> Value<'gc> {
    let Outcome::Returned { at } = outcome else {
        bug() // library continuations do not catch errors
    };
    let v = call.arg(at);
    call.set_nargs(at);
    v
}

/// An error raised inside a library function, without a position (as lua5.4's errors
/// from the core, raised while a C function runs, have none).
pub fn plain_error<'gc>(ctx: Ctx<'gc>, msg: &str) -> Error<'gc> {
    Error::Value(ctx.str_value(msg.as_bytes()))
}

/// `obj[key]` as Lua code reads it.
#[inline]
pub fn get<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    obj: Value<'gc>,
    key: Value<'gc>,
    then: Cont,
) -> Res<'gc> {
    // Present values need no metamethod: the common case stays inline in the caller's loop.
    if let Value::Table(table) = obj {
        let v = table.get(key);
        if !v.is_nil() {
            return Ok(Flow::Ready(v));
        }
    }
    get_through_metamethods(ctx, call, obj, key, then)
}

/// [`get`] past its raw fast path, for callers that tried that already.
#[inline(never)]
pub fn get_through_metamethods<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    obj: Value<'gc>,
    key: Value<'gc>,
    then: Cont,
) -> Res<'gc> {
    let mut t = obj;
    for _ in 0..MAX_TAG_LOOP {
        let tm = match t {
            Value::Table(table) if table.external_id().is_some() => {
                return Ok(Flow::Ready(vm::external::raw_get(ctx, table, key)?));
            }
            Value::Table(table) => {
                let v = table.get(key);
                if !v.is_nil() {
                    return Ok(Flow::Ready(v));
                }
                match table.metatable() {
                    Some(mt) => event_of(ctx, mt, MetaEvent::Index),
                    None => Value::Nil,
                }
            }
            _ => {
                let tm = metamethod(ctx, t, MetaEvent::Index);
                if tm.is_nil() {
                    return Err(index_error(ctx, t));
                }
                tm
            }
        };
        match tm {
            Value::Nil => return Ok(Flow::Ready(Value::Nil)),
            Value::Function(_) => return Ok(Flow::Wait(call_function(call, tm, &[t, key], then))),
            _ => t = tm,
        }
    }
    Err(plain_error(ctx, "'__index' chain too long; possible loop"))
}

/// `obj[key] = value` as Lua code writes it.
#[inline]
pub fn set<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    obj: Value<'gc>,
    key: Value<'gc>,
    value: Value<'gc>,
    then: Cont,
) -> Res<'gc> {
    // Without a metatable, or over a present value, the write is raw.
    if let (Value::Table(table), Value::Integer(i)) = (obj, key) {
        let mut state = table.state_mut(ctx.mc);
        if (state.metatable().is_none() || !state.get_int(i).is_nil())
            && state.try_set_int(i, value, 0).is_ok()
        {
            return Ok(Flow::Ready(Value::Nil));
        }
    }
    set_through_metamethods(ctx, call, obj, key, value, then)
}

/// [`set`] past its raw fast path, for callers that tried that already.
#[inline(never)]
pub fn set_through_metamethods<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    obj: Value<'gc>,
    key: Value<'gc>,
    value: Value<'gc>,
    then: Cont,
) -> Res<'gc> {
    let mut t = obj;
    for _ in 0..MAX_TAG_LOOP {
        let tm = match t {
            Value::Table(table) if table.external_id().is_some() => {
                let running = call.running();
                vm::external::raw_set(ctx, &running, table, key, value)?;
                return Ok(Flow::Ready(Value::Nil));
            }
            Value::Table(table) => {
                let tm = match table.metatable() {
                    Some(mt) => event_of(ctx, mt, MetaEvent::NewIndex),
                    None => Value::Nil,
                };
                if tm.is_nil() || !table.get(key).is_nil() {
                    raw_set(ctx, table, key, value)?;
                    return Ok(Flow::Ready(Value::Nil));
                }
                tm
            }
            _ => {
                let tm = metamethod(ctx, t, MetaEvent::NewIndex);
                if tm.is_nil() {
                    return Err(index_error(ctx, t));
                }
                tm
            }
        };
        if let Value::Function(_) = tm {
            return Ok(Flow::Wait(call_function(call, tm, &[t, key, value], then)));
        }
        t = tm;
    }
    Err(plain_error(
        ctx,
        "'__newindex' chain too long; possible loop",
    ))
}

fn index_error<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> Error<'gc> {
    let msg = format!("attempt to index a {} value", type_name_for_message(ctx, v));
    plain_error(ctx, &msg)
}

/// `#obj` as Lua code measures it; the result still needs [`to_length`] when it came from
/// `__len`.
pub fn length<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    obj: Value<'gc>,
    then: Cont,
) -> Res<'gc> {
    if let Value::Table(t) = obj {
        if t.external_id().is_some() {
            return Ok(Flow::Ready(Value::Integer(vm::external::length(ctx, t)?)));
        }
    }
    let tm = metamethod(ctx, obj, MetaEvent::Len);
    if !tm.is_nil() {
        return Ok(Flow::Wait(call_function(call, tm, &[obj, obj], then)));
    }
    match obj {
        Value::Table(t) => Ok(Flow::Ready(Value::Integer(t.length()))),
        Value::String(s) => Ok(Flow::Ready(Value::Integer(s.len() as i64))),
        _ => {
            let msg = format!(
                "attempt to get length of a {} value",
                type_name_for_message(ctx, obj)
            );
            Err(plain_error(ctx, &msg))
        }
    }
}

/// A length as an integer (`luaL_len`): `__len` may return any number or numeric string
/// with an integer value.
pub fn to_length<'gc>(v: Value<'gc>) -> Result<i64, Error<'gc>> {
    match to_number(v) {
        Some(Number::Int(n)) => Ok(n),
        Some(Number::Float(f)) => {
            float_to_int(f).ok_or_else(|| Error::runtime("object length is not an integer"))
        }
        None => Err(Error::runtime("object length is not an integer")),
    }
}

/// Keeps `value` (a buffer, a paused matcher) in argument `slot` while the library function
/// waits for a call or pauses; the userdata there is reused for the next one.
pub fn stash<'gc, T: 'static>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    slot: usize,
    value: T,
) {
    if let Value::UserData(u) = call.arg(slot) {
        if u.with_data(|_: &RefCell<T>| ()).is_some() {
            u.with_data(move |cell: &RefCell<T>| *cell_mut(cell) = value);
            return;
        }
    }
    let u = UserData::new(ctx.mc, alloc::boxed::Box::new(RefCell::new(value)));
    call.set_arg(slot, Value::UserData(u));
}

/// Takes back what [`stash`] kept (the default if there is nothing).
pub fn take<T: Default + 'static>(call: &NativeCall<'_, '_>, slot: usize) -> T {
    match call.arg(slot) {
        Value::UserData(u) => u
            .with_data(|cell: &RefCell<T>| core::mem::take(&mut *cell_mut(cell)))
            .unwrap_or_default(),
        _ => T::default(),
    }
}
