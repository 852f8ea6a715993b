//! Function handles: Lua functions the host holds between runs, by number. A registry table
//! maps each handle to its function, so the collector keeps it alive until the host releases
//! it, and [`Engine::start_call`](crate::Engine::start_call) runs one with encoded arguments.
//!
//! The other way round, a host function (`0a u32 id`) becomes a native that suspends the run
//! ([`Ctx::request_host`]) until the host answers ([`Engine::host_return`](crate::Engine::host_return)).

use vm::function::NativeClosure;
use vm::interp::{Action, Cont, Error, NativeCall};
use vm::value::Function;
use vm::{Ctx, Value};

use crate::codec::{Item, Reader, MAX_INLINE_DEPTH};
use crate::ext::Store;

/// The handle of `function(name) return _G[name] end` (metamethods apply, as in a script).
pub const GLOBAL_GET: u32 = 1;
/// The handle of `function(name, value) _G[name] = value end`.
pub const GLOBAL_SET: u32 = 2;
/// The first handle given to a function that reaches the host.
pub const FIRST_HANDLE: u32 = 3;

const REGISTRY_KEY: &[u8] = b"lua-persist handles";
/// Host functions by id, so that one id is one Lua function (`==` holds).
const HOST_KEY: &[u8] = b"lua-persist host functions";

/// Creates the handle table with the two global accessors.
pub fn install(ctx: Ctx<'_>) {
    let handles = ctx.new_table();
    let accessors: [(u32, &[u8], &[u8]); 2] = [
        (GLOBAL_GET, b"=global.get", b"return _ENV[...]"),
        (GLOBAL_SET, b"=global.set", b"local k, v = ...\n_ENV[k] = v"),
    ];
    for (handle, name, source) in accessors {
        let Ok(f) = ctx.load(source, name, None) else {
            unreachable!("the accessors compile")
        };
        handles.set_int(ctx.mc, handle as i64, Value::from(f));
    }
    let registry = ctx.registry();
    registry.set_str(ctx.mc, ctx.intern(REGISTRY_KEY), Value::Table(handles));
    registry.set_str(ctx.mc, ctx.intern(HOST_KEY), Value::Table(ctx.new_table()));
}

fn table<'gc>(ctx: Ctx<'gc>) -> vm::table::Table<'gc> {
    registry_table(ctx, REGISTRY_KEY)
}

fn registry_table<'gc>(ctx: Ctx<'gc>, key: &[u8]) -> vm::table::Table<'gc> {
    match ctx.registry().get_str(ctx.intern(key)) {
        Value::Table(t) => t,
        _ => unreachable!("install made the table"),
    }
}

/// The Lua function for host function `id`.
fn host_function<'gc>(ctx: Ctx<'gc>, id: u32) -> Value<'gc> {
    let cache = registry_table(ctx, HOST_KEY);
    let known = cache.get_int(id as i64);
    if !known.is_nil() {
        return known;
    }
    let upvals = Box::new([Value::Integer(id as i64)]);
    let f = Value::from(NativeClosure::with_upvals(
        ctx.mc,
        "host function",
        call_host,
        upvals,
    ));
    cache.set_int(ctx.mc, id as i64, f);
    f
}

/// Hands `id` and the arguments to the host and waits for its answer.
fn call_host<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    let id = call.upval(0);
    call.insert(0, id);
    ctx.request_host();
    Ok(Action::Yield {
        at: 0,
        then: Cont::resumed_values(),
    })
}

/// The host's id when `value` is one of its functions.
pub fn host_function_id(value: Value<'_>) -> Option<u32> {
    match value {
        Value::Function(Function::Native(f)) if f.is(call_host) => match f.upval(0) {
            Value::Integer(id) => u32::try_from(id).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// The host's answer to a waiting call: `00`, `u32 count`, the results; or `01` and the
/// error value. Malformed bytes become an error raised in Lua.
pub fn decode_answer<'gc>(
    ctx: Ctx<'gc>,
    store: &Store,
    answer: &[u8],
) -> Result<Vec<Value<'gc>>, Value<'gc>> {
    let read = || -> Result<Result<Vec<Value<'gc>>, Value<'gc>>, String> {
        let (&kind, rest) = answer.split_first().ok_or("empty answer from the host")?;
        let mut r = Reader::new(rest);
        let out = match kind {
            0 => {
                let count = r.u32().map_err(|e| e.to_string())?;
                let mut values = Vec::new();
                for _ in 0..count {
                    values.push(decode(ctx, store, &mut r, 0)?);
                }
                Ok(values)
            }
            1 => Err(decode(ctx, store, &mut r, 0)?),
            _ => return Err("unknown answer kind from the host".into()),
        };
        if !r.is_empty() {
            return Err("answer from the host has trailing bytes".into());
        }
        Ok(out)
    };
    read().unwrap_or_else(|message| Err(ctx.str_value(message.as_bytes())))
}

/// Keeps `f` alive under a new handle; `None` when handles are exhausted.
pub fn register<'gc>(ctx: Ctx<'gc>, next: &mut u32, f: Value<'gc>) -> Option<u32> {
    let handle = *next;
    *next = handle.checked_add(1)?;
    table(ctx).set_int(ctx.mc, handle as i64, f);
    Some(handle)
}

/// Forgets `handle`; false when it names no function (released, never given, an accessor).
pub fn release(ctx: Ctx<'_>, handle: u32) -> bool {
    let t = table(ctx);
    if handle < FIRST_HANDLE || t.get_int(handle as i64).is_nil() {
        return false;
    }
    t.set_int(ctx.mc, handle as i64, Value::Nil);
    true
}

/// The function and arguments of a call: `u32 handle`, `u32 count`, then `count` values.
pub fn decode_call<'gc>(
    ctx: Ctx<'gc>,
    store: &Store,
    input: &[u8],
) -> Result<(Value<'gc>, Vec<Value<'gc>>), String> {
    let mut r = Reader::new(input);
    let err = |e: crate::codec::CodecError| e.to_string();
    let f = lookup(ctx, r.u32().map_err(err)?)?;
    let count = r.u32().map_err(err)?;
    let mut args = Vec::new();
    for _ in 0..count {
        args.push(decode(ctx, store, &mut r, 0)?);
    }
    if !r.is_empty() {
        return Err("call input has trailing bytes".into());
    }
    Ok((f, args))
}

fn lookup<'gc>(ctx: Ctx<'gc>, handle: u32) -> Result<Value<'gc>, String> {
    match table(ctx).get_int(handle as i64) {
        Value::Nil => Err(format!("function handle {handle} was released")),
        f => Ok(f),
    }
}

/// One argument: scalars, external tables, handles, and inline tables as new plain tables.
fn decode<'gc>(
    ctx: Ctx<'gc>,
    store: &Store,
    r: &mut Reader,
    depth: usize,
) -> Result<Value<'gc>, String> {
    if depth > MAX_INLINE_DEPTH {
        return Err("arguments nested too deeply".into());
    }
    Ok(match r.item().map_err(|e| e.to_string())? {
        Item::Nil => Value::Nil,
        Item::Boolean(b) => Value::Boolean(b),
        Item::Integer(i) => Value::Integer(i),
        Item::Float(f) => Value::Float(f),
        Item::String(s) => ctx.str_value(s),
        Item::TableRef(id) if store.is_known_id(id) => Value::Table(ctx.external_table(id)),
        Item::Handle(h) => lookup(ctx, h)?,
        Item::HostFunction(id) => host_function(ctx, id),
        Item::InlineTable(n) => {
            let t = ctx.new_table();
            for _ in 0..n {
                let k = decode(ctx, store, r, depth + 1)?;
                let v = decode(ctx, store, r, depth + 1)?;
                t.set(ctx.mc, k, v).map_err(|e| e.message().to_string())?;
            }
            Value::Table(t)
        }
        _ => return Err("value kind cannot be passed to Lua".into()),
    })
}
