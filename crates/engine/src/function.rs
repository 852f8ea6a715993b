//! Stored functions: a Lua closure is kept as its bytecode (our binary-chunk format, read
//! back through the VM's verifier) plus its upvalues; a builtin by its global name.
//!
//! Each upvalue cell (a captured variable) is persisted once, by identity, as an external
//! table `{[1] = value}` holding its value when stored: two stored functions that shared a
//! variable share it again after a reload. Each stored function comes back as one closure
//! (`_home.f == _home.f`) for as long as it is alive. A captured globals table is stored as
//! "the globals of the state that loads it".
//!
//! Payload of a function value (tag `05`):
//!
//! ```text
//! u32 n, n × u32   the external tables it reaches directly (its cells), for the host's sweep
//! "\x1bLPF" kind:u8
//! kind 1 (Lua)     u32 len + binary chunk, u32 count, count × (0 cell:u32 | 1 globals)
//! kind 2 (builtin) u32 len + name ("print", "string.format")
//! ```
//!
//! The piccolo-era engine wrote its own prototype format after the id list; such functions
//! are refused with a message naming the key they are under.

use std::collections::HashSet;

use vm::function::{LuaClosure, NativeClosure, Proto, Upval};
use vm::interp::Error;
use vm::lib::at;
use vm::table::Table;
use vm::{Ctx, Function, Value};

use crate::codec::{Reader, Writer};

/// Marks payloads in this format (after the id list).
pub const MARKER: &[u8] = b"\x1bLPF";
const KIND_LUA: u8 = 1;
const KIND_BUILTIN: u8 = 2;
const UPVALUE_CELL: u8 = 0;
const UPVALUE_GLOBALS: u8 = 1;

/// Registry names of the engine's tables in the arena, made by [`SETUP`].
pub const CACHE: &[u8] = b"lua-persist functions";
/// Cells of loaded functions, by id.
pub const CELLS: &[u8] = b"lua-persist cells";
/// Variables of running code that were stored as cells, by id: kept alive so their
/// addresses keep naming them.
pub const STORED: &[u8] = b"lua-persist stored cells";
pub const HOLDER: &[u8] = b"lua-persist cell holder";

/// Run once in a new state: the weak cache of loaded functions by payload, the cells by id
/// (each held by a closure whose one upvalue it is), the variables stored as cells, and a
/// holder to copy the prototype of.
pub const SETUP: &str = r#"
local reg = debug.getregistry()
reg["lua-persist functions"] = setmetatable({}, {__mode = "v"})
reg["lua-persist cells"] = {}
reg["lua-persist stored cells"] = {}
local x
reg["lua-persist cell holder"] = function() return x end
"#;

pub fn registry<'gc>(ctx: Ctx<'gc>, name: &[u8]) -> Value<'gc> {
    ctx.registry().get_str(ctx.intern(name))
}

/// The global name of a builtin: a global function, or a function of a global table
/// (`string.format`).
pub fn builtin_name<'gc>(ctx: Ctx<'gc>, f: NativeClosure<'gc>) -> Option<String> {
    let target = Value::from(f);
    let globals = ctx.globals();
    let mut key = Value::Nil;
    let mut nested = None;
    while let Ok(Some((k, v))) = globals.next(key) {
        key = k;
        let Value::String(name) = k else { continue };
        let name = String::from_utf8_lossy(name.as_bytes()).into_owned();
        if v.raw_eq(target) {
            return Some(name);
        }
        if let Value::Table(lib) = v {
            if lib.external_id().is_none() && nested.is_none() {
                let mut k2 = Value::Nil;
                while let Ok(Some((fk, fv))) = lib.next(k2) {
                    k2 = fk;
                    if let (Value::String(fname), true) = (fk, fv.raw_eq(target)) {
                        nested = Some(format!(
                            "{name}.{}",
                            String::from_utf8_lossy(fname.as_bytes())
                        ));
                        break;
                    }
                }
            }
        }
    }
    nested
}

fn builtin_by_name<'gc>(ctx: Ctx<'gc>, name: &str) -> Option<Value<'gc>> {
    let mut v = Value::Table(ctx.globals());
    for part in name.split('.') {
        let Value::Table(t) = v else { return None };
        if t.external_id().is_some() {
            return None;
        }
        v = t.get_str(ctx.intern(part.as_bytes()));
    }
    matches!(v, Value::Function(Function::Native(_))).then_some(v)
}

/// Splits a payload into its id list and the rest; `None` when it is not in this format.
pub fn body(payload: &[u8]) -> Result<Option<&[u8]>, String> {
    let mut r = Reader::new(payload);
    let n = r.u32().map_err(|e| e.to_string())? as usize;
    let rest = payload
        .get(4 + n * 4..)
        .ok_or("function payload is truncated")?;
    Ok(rest.strip_prefix(MARKER))
}

/// The cells a payload reaches, in order.
pub fn cell_ids(payload: &[u8]) -> Vec<u32> {
    let mut r = Reader::new(payload);
    let n = r.u32().unwrap_or(0);
    // Plain loops here and below: each iterator adapter costs the module code of its own.
    let mut ids = Vec::new();
    for _ in 0..n {
        if let Ok(id) = r.u32() {
            ids.push(id);
        }
    }
    ids
}

/// What a closure's payload is made of, found before anything is written.
pub struct Upvalues<'gc> {
    /// Per upvalue: `None` for the globals, else the captured value.
    pub values: Vec<Option<Value<'gc>>>,
    pub cells: Vec<Upval<'gc>>,
}

/// The captured values of a Lua closure (`None` for the globals).
pub fn captured<'gc>(
    ctx: Ctx<'gc>,
    running: &vm::external::Running<'_, 'gc>,
    c: LuaClosure<'gc>,
) -> Upvalues<'gc> {
    let globals = Value::Table(ctx.globals());
    let cells: Vec<Upval<'gc>> = c.upvals().iter().copied().collect();
    let values = cells
        .iter()
        .map(|&u| {
            let v = running.upvalue(u);
            (!v.raw_eq(globals)).then_some(v)
        })
        .collect();
    Upvalues { values, cells }
}

/// Writes the payload of `f`. `cell_of` gives (allocating and filling as needed) the id of
/// each upvalue cell.
pub fn encode<'gc>(
    ctx: Ctx<'gc>,
    running: &vm::external::Running<'_, 'gc>,
    f: Function<'gc>,
    cell_of: &mut dyn FnMut(Upval<'gc>, Value<'gc>) -> Result<u32, Error<'gc>>,
    out: &mut Vec<u8>,
) -> Result<(), Error<'gc>> {
    let mut ids = Vec::new();
    let mut rest = Vec::new();
    rest.extend_from_slice(MARKER);
    match f {
        Function::Native(n) => {
            let name = builtin_name(ctx, n).ok_or_else(|| {
                Error::runtime("cannot store a builtin function that has no global name")
            })?;
            rest.push(KIND_BUILTIN);
            put_bytes(&mut rest, name.as_bytes());
        }
        Function::Lua(c) => {
            rest.push(KIND_LUA);
            let chunk = vm::dump::dump(&c.proto().to_plain(), false);
            put_bytes(&mut rest, &chunk);
            let up = captured(ctx, running, c);
            Writer(&mut rest).u32(up.values.len() as u32);
            for (v, u) in up.values.iter().zip(up.cells) {
                match v {
                    None => rest.push(UPVALUE_GLOBALS),
                    Some(v) => {
                        let id = cell_of(u, *v)?;
                        ids.push(id);
                        rest.push(UPVALUE_CELL);
                        Writer(&mut rest).u32(id);
                    }
                }
            }
        }
    }
    let mut w = Writer(out);
    w.u32(ids.len() as u32);
    for id in ids {
        w.u32(id);
    }
    out.extend_from_slice(&rest);
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    Writer(out).u32(bytes.len() as u32);
    out.extend_from_slice(bytes);
}

/// Loads a payload's function; `cell` gives the upvalue cell for an id (restoring it from
/// the host the first time).
pub fn decode<'gc>(
    ctx: Ctx<'gc>,
    payload: &[u8],
    cell: &mut dyn FnMut(u32) -> Result<Upval<'gc>, Error<'gc>>,
) -> Result<Value<'gc>, Error<'gc>> {
    let key = ctx.intern(payload);
    let cache = match registry(ctx, CACHE) {
        Value::Table(t) => Some(t),
        _ => None,
    };
    if let Some(Value::Function(f)) = cache.map(|t| t.get_str(key)) {
        return Ok(Value::Function(f));
    }
    let bad = |what: &str| Error::runtime(format!("stored function is malformed ({what})"));
    let body = body(payload)
        .map_err(|e| bad(&e))?
        .ok_or_else(|| Error::runtime(OLD_FORMAT))?;
    let (&kind, rest) = body.split_first().ok_or_else(|| bad("empty"))?;
    let mut r = Reader::new(rest);
    let f = match kind {
        KIND_BUILTIN => {
            let name = r.u32().ok().and_then(|n| rest.get(4..4 + n as usize));
            let name = String::from_utf8_lossy(name.ok_or_else(|| bad("name"))?).into_owned();
            builtin_by_name(ctx, &name).ok_or_else(|| {
                Error::runtime(format!(
                    "stored builtin '{name}' does not exist in this state"
                ))
            })?
        }
        KIND_LUA => {
            let len = r.u32().map_err(|e| bad(&e.to_string()))? as usize;
            let chunk = rest.get(4..4 + len).ok_or_else(|| bad("chunk"))?;
            let plain = vm::dump::undump(chunk, b"=stored function").map_err(Error::runtime)?;
            let mut r = Reader::new(at(rest, 4 + len..));
            let count = r.u32().map_err(|e| bad(&e.to_string()))? as usize;
            if count != plain.upvalues.len() {
                return Err(bad("upvalue count"));
            }
            let at = 4 + len + 4;
            let mut pos = at;
            let mut upvals = Vec::with_capacity(count);
            for _ in 0..count {
                match rest.get(pos) {
                    Some(&UPVALUE_GLOBALS) => {
                        pos += 1;
                        upvals.push(Upval::new_closed(ctx.mc, Value::Table(ctx.globals())));
                    }
                    Some(&UPVALUE_CELL) => {
                        let id = rest
                            .get(pos + 1..pos + 5)
                            .and_then(|b| b.try_into().ok())
                            .map(u32::from_le_bytes)
                            .ok_or_else(|| bad("cell"))?;
                        pos += 5;
                        upvals.push(cell(id)?);
                    }
                    _ => return Err(bad("upvalue")),
                }
            }
            if pos != rest.len() {
                return Err(bad("trailing bytes"));
            }
            let proto = Proto::load(ctx, plain);
            Value::from(LuaClosure::new(ctx.mc, proto, upvals.into_boxed_slice()))
        }
        _ => return Err(bad("kind")),
    };
    if let Some(cache) = cache {
        cache.set_str(ctx.mc, key, f);
    }
    Ok(f)
}

/// The message for a function stored by the piccolo-era engine.
pub const OLD_FORMAT: &str =
    "function stored by an earlier version (piccolo format) cannot be loaded; store it again";

/// A new cell of loaded functions, registered as `id`.
pub fn new_cell<'gc>(ctx: Ctx<'gc>, id: u32) -> Upval<'gc> {
    let u = Upval::new_closed(ctx.mc, Value::Nil);
    hold(ctx, CELLS, id, u);
    u
}

/// Keeps `u` alive as cell `id` in the registry table `table` (with a holder closure).
pub fn hold<'gc>(ctx: Ctx<'gc>, table: &[u8], id: u32, u: Upval<'gc>) {
    let (Value::Table(cells), Value::Function(Function::Lua(holder))) =
        (registry(ctx, table), registry(ctx, HOLDER))
    else {
        return;
    };
    let c = LuaClosure::new(ctx.mc, holder.proto(), Box::new([u]));
    cells.set_int(ctx.mc, cell_key(id), Value::from(c));
}

/// The key of cell `id` in the registry tables. Negative, so in the hash part, which
/// shrinks when it is rebuilt: keyed by the ids themselves, which only grow and are sparse,
/// the heap still grew with every stored function overwritten (tests/js/functions.test.js).
fn cell_key(id: u32) -> i64 {
    -i64::from(id)
}

/// The cell registered as `id`, if any.
pub fn held<'gc>(ctx: Ctx<'gc>, id: u32) -> Option<Upval<'gc>> {
    held_in(ctx, CELLS, id)
}

fn held_in<'gc>(ctx: Ctx<'gc>, table: &[u8], id: u32) -> Option<Upval<'gc>> {
    let Value::Table(cells) = registry(ctx, table) else {
        return None;
    };
    match cells.get_int(cell_key(id)) {
        Value::Function(Function::Lua(c)) => c.upvals().first().copied(),
        _ => None,
    }
}

/// Stops keeping cell `id` alive, as a loaded cell and as a stored variable; the cells
/// that were kept under it.
pub fn release<'gc>(ctx: Ctx<'gc>, id: u32) -> Vec<Upval<'gc>> {
    let mut released = Vec::new();
    for &table in &[CELLS, STORED] {
        let Some(cell) = held_in(ctx, table, id) else {
            continue;
        };
        if let Value::Table(cells) = registry(ctx, table) {
            cells.set_int(ctx.mc, cell_key(id), Value::Nil);
        }
        released.push(cell);
    }
    released
}

/// Plain tables and closures a stored value reaches, checked before anything is written.
pub fn check<'gc>(
    ctx: Ctx<'gc>,
    running: &vm::external::Running<'_, 'gc>,
    f: Function<'gc>,
    seen: &mut HashSet<usize>,
    tables: &mut Vec<Table<'gc>>,
) -> Result<(), String> {
    let mut pending = vec![f];
    while let Some(f) = pending.pop() {
        match f {
            Function::Native(n) => {
                if builtin_name(ctx, n).is_none() {
                    return Err("cannot store a builtin function that has no global name".into());
                }
            }
            Function::Lua(c) => {
                if !seen.insert(Value::Function(f).addr().unwrap_or(0)) {
                    continue;
                }
                for &v in &captured(ctx, running, c).values {
                    let Some(v) = v else { continue };
                    match v {
                        Value::Function(g) => pending.push(g),
                        Value::Table(t) if t.external_id().is_none() => tables.push(t),
                        Value::Thread(_) => {
                            return Err("cannot store a function with a coroutine upvalue".into())
                        }
                        Value::UserData(_) | Value::LightUserData(_) => {
                            return Err("cannot store a function with a userdata upvalue".into())
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(())
}
