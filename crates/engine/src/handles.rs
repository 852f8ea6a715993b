//! Handles: Lua functions (and tables read in place) the host holds between runs, by number.
//! A registry table maps each handle to its value, so the collector keeps it alive until the
//! host releases it, and
//! [`Engine::start_call`](crate::Engine::start_call) runs one with encoded arguments.
//!
//! The other way round, a host function (`0a u32 id`) becomes a native that suspends the run
//! ([`Ctx::request_host`]) until the host answers ([`Engine::host_return`](crate::Engine::host_return)),
//! and a host object (`0b u32 id`) a userdata whose metamethods ask the host the same way.

use std::rc::Rc;

use vm::function::NativeClosure;
use vm::interp::{Action, Cont, Error, NativeCall};
use vm::userdata::UserData;
use vm::value::Function;
use vm::{Ctx, Value};

use crate::codec::{Item, Reader, MAX_INLINE_DEPTH};
use crate::ext::Store;
use stdlib::set_field;
use vm::lib::bug;

/// The handle of `function(name) return _G[name] end` (metamethods apply, as in a script).
pub const GLOBAL_GET: u32 = 1;
/// The handle of `function(name, value) _G[name] = value end`.
pub const GLOBAL_SET: u32 = 2;
/// The handle of `function(t, k)`: the table `_G[k]` when `t` is nil, else `rawget(t, k)`; an
/// error when that is not a table. A plain table it returns is itself a handle.
pub const TABLE_OPEN: u32 = 3;
/// The handle of `rawget`.
pub const TABLE_GET: u32 = 4;
/// The handle of `rawset`, returning nothing.
pub const TABLE_SET: u32 = 5;
/// The handle of `rawlen`.
pub const TABLE_LENGTH: u32 = 6;
/// The handle of `function(t)` returning a function that gives the next `n` entries of `t`
/// as one list `{k1, v1, k2, v2, ...}` (shorter than `2n` at the end).
pub const TABLE_ITERATE: u32 = 7;
/// The first handle given to a value that reaches the host.
pub const FIRST_HANDLE: u32 = 8;

/// The host call of a host object's `__index(obj, key)`. The ids of these calls are
/// negative, so no host function's id is one of them.
pub const OBJECT_INDEX: i64 = -1;
/// The host call of a host object's `__newindex(obj, key, value)`.
pub const OBJECT_NEWINDEX: i64 = -2;
/// The host call of a host object's `__tostring(obj)`.
pub const OBJECT_TOSTRING: i64 = -3;

const REGISTRY_KEY: &[u8] = b"lua-persist handles";
/// Host functions by id, so that one id is one Lua function (`==` holds).
const HOST_KEY: &[u8] = b"lua-persist host functions";
/// Host objects by id, weak: one userdata per id while it lives (`==` holds).
const OBJECTS_KEY: &[u8] = b"lua-persist host objects";
/// The metatable every host object shares.
const OBJECT_META_KEY: &[u8] = b"lua-persist host object";

/// The table accessors written in Lua (handles 3, 5 and 7), compiled when the host first
/// opens a table: compiling them in every new state ran enough of the compiler at start-up
/// for V8 to optimise it in the background, and Node waits for that before it exits
/// (+200 ms to a script's first result). Their `_ENV` is [`ACCESSOR_ENV_KEY`]'s table.
const TABLE_ACCESSORS: [(u32, &[u8], &[u8]); 3] = [
    (
        TABLE_OPEN,
        b"=table.open",
        br#"local t, k = ...
local v
if t == nil then v = G[k] else v = rawget(t, k) end
if type(v) ~= "table" then
  error((t == nil and "global '" or "field '") .. tostring(k) .. "' is not a table (a " .. type(v) .. " value)", 0)
end
return v"#,
    ),
    (TABLE_SET, b"=table.set", b"local t, k, v = ...\nrawset(t, k, v)"),
    (
        TABLE_ITERATE,
        b"=table.iterate",
        br#"local t = ...
local k, done
return function(n)
  local out, i = {}, 0
  while not done and i < 2 * n do
    local v
    k, v = next(t, k)
    if k == nil then done = true else out[i + 1], out[i + 2], i = k, v, i + 2 end
  end
  return out
end"#,
    ),
];

/// The accessors' globals: the raw functions as a new state has them (a script may replace
/// the globals later) and `G`, the globals table.
const ACCESSOR_ENV_KEY: &[u8] = b"lua-persist table accessors";

/// Creates the handle table with the two global accessors, and the host objects' metatable.
pub fn install(ctx: Ctx<'_>) {
    let handles = ctx.new_table();
    let accessors: [(u32, &[u8], &[u8]); 2] = [
        (GLOBAL_GET, b"=global.get", b"return _ENV[...]"),
        (GLOBAL_SET, b"=global.set", b"local k, v = ...\n_ENV[k] = v"),
    ];
    for (handle, name, source) in accessors {
        let Ok(f) = ctx.load(source, name, None) else {
            bug() // the accessors compile
        };
        handles.set_int(ctx.mc, handle as i64, Value::from(f));
    }
    let globals = ctx.globals();
    let raw = |name: &[u8]| globals.get_str(ctx.intern(name));
    handles.set_int(ctx.mc, TABLE_GET as i64, raw(b"rawget"));
    handles.set_int(ctx.mc, TABLE_LENGTH as i64, raw(b"rawlen"));
    let env = ctx.new_table();
    for name in [
        &b"rawget"[..],
        b"rawset",
        b"next",
        b"type",
        b"error",
        b"tostring",
    ] {
        set_field(ctx, env, name, raw(name));
    }
    set_field(ctx, env, b"G", Value::Table(globals));
    let registry = ctx.registry();
    set_field(ctx, registry, ACCESSOR_ENV_KEY, Value::Table(env));
    let objects = ctx.new_table();
    ctx.make_weak(objects, b"v");
    set_field(ctx, registry, OBJECTS_KEY, Value::Table(objects));
    set_field(ctx, registry, REGISTRY_KEY, Value::Table(handles));
    set_field(ctx, registry, HOST_KEY, Value::Table(ctx.new_table()));
    let meta = ctx.new_table();
    let events: [(&'static str, i64); 3] = [
        ("__index", OBJECT_INDEX),
        ("__newindex", OBJECT_NEWINDEX),
        ("__tostring", OBJECT_TOSTRING),
    ];
    for (event, id) in events {
        let upvals = Box::new([Value::Integer(id)]);
        let f = NativeClosure::with_upvals(ctx.mc, event, call_host, upvals);
        set_field(ctx, meta, event.as_bytes(), Value::from(f));
    }
    // `__name` words messages ("attempt to call a JS object value"); `__metatable` keeps
    // scripts from changing what every host object shares.
    for key in [&b"__name"[..], b"__metatable"] {
        set_field(ctx, meta, key, ctx.str_value(b"JS object"));
    }
    set_field(ctx, registry, OBJECT_META_KEY, Value::Table(meta));
}

fn table<'gc>(ctx: Ctx<'gc>) -> vm::table::Table<'gc> {
    registry_table(ctx, REGISTRY_KEY)
}

fn registry_table<'gc>(ctx: Ctx<'gc>, key: &[u8]) -> vm::table::Table<'gc> {
    match ctx.registry().get_str(ctx.intern(key)) {
        Value::Table(t) => t,
        _ => bug(), // install made the table
    }
}

/// A JS object held by a userdata: when the last userdata of its id is freed, the host may
/// forget the object.
struct HostObject {
    id: u32,
    store: Rc<Store>,
}

impl Drop for HostObject {
    fn drop(&mut self) {
        self.store.release_object(self.id);
    }
}

/// The userdata for host object `id`.
fn host_object<'gc>(ctx: Ctx<'gc>, store: &Rc<Store>, id: u32) -> Value<'gc> {
    let cache = registry_table(ctx, OBJECTS_KEY);
    let known = cache.get_int(id as i64);
    if !known.is_nil() {
        return known;
    }
    store.hold_object(id);
    let object = HostObject {
        id,
        store: store.clone(),
    };
    let u = UserData::new(ctx.mc, Box::new(object));
    u.set_metatable(ctx.mc, Some(registry_table(ctx, OBJECT_META_KEY)));
    cache.set_int(ctx.mc, id as i64, Value::UserData(u));
    Value::UserData(u)
}

/// The host's id when `value` is one of its objects.
pub fn host_object_id(value: Value<'_>) -> Option<u32> {
    match value {
        Value::UserData(u) => u.with_data(|o: &HostObject| o.id),
        _ => None,
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
    store: &Rc<Store>,
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

/// Keeps `f` (a function or a table) alive under a new handle; `None` when handles are exhausted.
pub fn register<'gc>(ctx: Ctx<'gc>, next: &mut u32, f: Value<'gc>) -> Option<u32> {
    let handle = *next;
    *next = handle.checked_add(1)?;
    table(ctx).set_int(ctx.mc, handle as i64, f);
    Some(handle)
}

/// Forgets `handle`; false when it names nothing (released, never given, an accessor).
pub fn release(ctx: Ctx<'_>, handle: u32) -> bool {
    let t = table(ctx);
    if handle < FIRST_HANDLE || t.get_int(handle as i64).is_nil() {
        return false;
    }
    t.set_int(ctx.mc, handle as i64, Value::Nil);
    true
}

/// Puts the accessors of [`TABLE_ACCESSORS`] in `handles`, on the first call of one.
fn compile_table_accessors<'gc>(ctx: Ctx<'gc>, handles: vm::table::Table<'gc>) {
    let env = ctx.registry().get_str(ctx.intern(ACCESSOR_ENV_KEY));
    for (handle, name, source) in TABLE_ACCESSORS {
        let Ok(f) = ctx.load(source, name, Some(env)) else {
            bug() // the table accessors compile
        };
        handles.set_int(ctx.mc, handle as i64, Value::from(f));
    }
}

/// The function and arguments of a call: `u32 handle`, `u32 count`, then `count` values.
pub fn decode_call<'gc>(
    ctx: Ctx<'gc>,
    store: &Rc<Store>,
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
    let handles = table(ctx);
    let accessor = matches!(handle, TABLE_OPEN | TABLE_SET | TABLE_ITERATE);
    if accessor && handles.get_int(handle as i64).is_nil() {
        compile_table_accessors(ctx, handles);
    }
    match handles.get_int(handle as i64) {
        Value::Nil => Err(format!("handle {handle} was released")),
        f => Ok(f),
    }
}

/// One argument: scalars, external tables, handles, host functions and objects, and inline
/// tables as new plain tables.
fn decode<'gc>(
    ctx: Ctx<'gc>,
    store: &Rc<Store>,
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
        Item::TableRef(id) => return Err(format!("external table {id} was never allocated")),
        Item::Handle(h) => lookup(ctx, h)?,
        Item::HostFunction(id) => host_function(ctx, id),
        Item::HostObject(id) => host_object(ctx, store, id),
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
