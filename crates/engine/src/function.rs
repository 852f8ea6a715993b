//! Functions as values of external tables (value tag `05`).
//!
//! A Lua closure is stored as its prototype ([`crate::proto`]) plus its upvalues captured by
//! value at store time: scalars as themselves, tables as external-table references (plain
//! tables become external, as when stored directly), functions recursively, the globals
//! table as "the loading state's globals". A builtin (`print`, `string.format`) is stored by
//! its global name. Payload layout, little-endian:
//!
//! ```text
//! u32 n, n × u32       every external table the function reaches (for the host's
//!                      reachability walk; it need not parse what follows)
//! u8 kind              0 builtin: u32 len, dotted name
//!                      1 closure: u32 len, prototype; u32 m, m × upvalue
//! upvalue              u8 0: the globals table · 1: the closure itself · 2: an encoded value
//! ```
//!
//! Upvalues are copies: two functions that shared an upvalue no longer share it after a
//! round trip, and a closure reads the value its upvalue had when it was stored.

use std::collections::{HashMap, HashSet};

use allocator_api2::vec;
use gc_arena::Collect;
use gc_arena::{allocator_api::MetricsAlloc, Gc};
use piccolo::{
    closure::{UpValue, UpValueState},
    compiler::{FunctionRef, LineNumber},
    opcode::{OpCode, Operation},
    types::{RegisterIndex, UpValueDescriptor, UpValueIndex, VarCount},
    Callback, Closure, Context, Function, FunctionPrototype, Table, Value,
};

use crate::codec::{Item, Reader, Writer};
use crate::ext::{Ext, Shared};
use crate::host::HostError;
use crate::proto;

const KIND_BUILTIN: u8 = 0;
const KIND_CLOSURE: u8 = 1;
const UPVALUE_GLOBALS: u8 = 0;
const UPVALUE_SELF: u8 = 1;
const UPVALUE_VALUE: u8 = 2;

/// How deep functions may nest through upvalues, both ways.
const MAX_FUNCTION_DEPTH: usize = 32;

/// The upvalue values of closures, as read by [`reader`] for those whose upvalues are still
/// open. A callback cannot read an open upvalue of the running thread itself (the thread is
/// mutably borrowed while it runs), but Lua code running on that thread can.
#[derive(Default, Collect)]
#[collect(no_drop)]
pub struct UpvalueValues<'gc>(HashMap<usize, Vec<Value<'gc>>>);

impl<'gc> UpvalueValues<'gc> {
    pub fn insert(&mut self, closure: Closure<'gc>, values: Vec<Value<'gc>>) {
        self.0.insert(closure_ptr(closure) as usize, values);
    }

    /// The closure's upvalue values, if known: read before, or all closed.
    pub fn get(&self, closure: Closure<'gc>) -> Option<Vec<Value<'gc>>> {
        if let Some(v) = self.0.get(&(closure_ptr(closure) as usize)) {
            return Some(v.clone());
        }
        closure
            .upvalues()
            .iter()
            .map(|u| match u.get() {
                UpValueState::Closed(v) => Some(v),
                UpValueState::Open(_) => None,
            })
            .collect()
    }
}

/// A closure that returns the values of `closure`'s upvalues, sharing the same upvalue
/// objects: `GetUpValue` for each, then `Return`.
pub fn reader<'gc>(ctx: Context<'gc>, closure: Closure<'gc>) -> Closure<'gc> {
    let upvalues = closure.upvalues();
    let n = upvalues.len().min(u8::MAX as usize);
    let alloc = MetricsAlloc::new(&ctx);
    let mut opcodes = vec::Vec::new_in(alloc.clone());
    for i in 0..n {
        opcodes.push(OpCode::encode(Operation::GetUpValue {
            dest: RegisterIndex(i as u8),
            source: UpValueIndex(i as u8),
        }));
    }
    opcodes.push(OpCode::encode(Operation::Return {
        start: RegisterIndex(0),
        count: VarCount::constant(n as u8),
    }));
    let mut lines = vec::Vec::new_in(alloc.clone());
    lines.push((0, LineNumber(0)));
    let mut descriptors = vec::Vec::new_in(alloc.clone());
    descriptors.extend((0..n).map(|_| UpValueDescriptor::Environment));
    let proto = FunctionPrototype {
        chunk_name: ctx.intern_static(b"=upvalues"),
        reference: FunctionRef::Chunk,
        fixed_params: 0,
        has_varargs: false,
        stack_size: n.max(1) as u16,
        constants: vec::Vec::new_in(alloc.clone()).into_boxed_slice(),
        opcodes: opcodes.into_boxed_slice(),
        opcode_line_numbers: lines.into_boxed_slice(),
        upvalues: descriptors.into_boxed_slice(),
        prototypes: vec::Vec::new_in(alloc.clone()).into_boxed_slice(),
    };
    let mut shared = vec::Vec::with_capacity_in(n, alloc);
    shared.extend(upvalues[..n].iter().copied());
    Closure::from_parts(&ctx, Gc::new(&ctx, proto), shared)
}

/// Global names of the builtins reachable from globals (`print`, `string.format`, ...).
pub struct BuiltinNames(HashMap<*const (), String>);

impl BuiltinNames {
    /// Walks globals and the library tables in them. Done per store, not cached: a builtin
    /// that was replaced and collected must not lend its address to another.
    pub fn collect<'gc>(ctx: Context<'gc>) -> BuiltinNames {
        let mut names = HashMap::new();
        names.insert(
            callback_ptr(stdlib::method_call_helper(ctx)),
            METHOD_CALL_HELPER.to_string(),
        );
        let mut add = |f: Value<'gc>, name: String| {
            if let Value::Function(Function::Callback(cb)) = f {
                names.entry(callback_ptr(cb)).or_insert(name);
            }
        };
        for (k, v) in ctx.globals().iter() {
            let Value::String(k) = k else { continue };
            let Ok(k) = k.to_str() else { continue };
            match v {
                Value::Table(lib) if lib != ctx.globals() => {
                    for (name, f) in lib.iter() {
                        if let Value::String(name) = name {
                            if let Ok(name) = name.to_str() {
                                add(f, format!("{k}.{name}"));
                            }
                        }
                    }
                }
                f => add(f, k.to_string()),
            }
        }
        BuiltinNames(names)
    }

    fn name(&self, cb: Callback<'_>) -> Option<&str> {
        self.0.get(&callback_ptr(cb)).map(String::as_str)
    }
}

fn callback_ptr(cb: Callback<'_>) -> *const () {
    Gc::as_ptr(cb.into_inner()) as *const ()
}

fn closure_ptr(c: Closure<'_>) -> *const () {
    Gc::as_ptr(c.into_inner()) as *const ()
}

/// Checks that `function` can be stored and returns the upvalue values the caller must check
/// in turn (tables and functions). `path` holds the closures being checked around this one.
pub fn captured<'gc>(
    ctx: Context<'gc>,
    names: &BuiltinNames,
    upvalues: &UpvalueValues<'gc>,
    function: Function<'gc>,
    path: &[*const ()],
) -> Result<Vec<Value<'gc>>, String> {
    let closure = match function {
        Function::Callback(cb) => {
            return match names.name(cb) {
                Some(_) => Ok(Vec::new()),
                None => Err("cannot store a builtin function that has no global name".into()),
            }
        }
        Function::Closure(c) => c,
    };
    if path.len() >= MAX_FUNCTION_DEPTH {
        return Err("functions nested too deeply through upvalues".into());
    }
    let mut values = Vec::new();
    let known = upvalues
        .get(closure)
        .ok_or("upvalues of a running function could not be read")?;
    for value in known {
        match value {
            Value::Table(t) if t == ctx.globals() => {}
            Value::Function(Function::Closure(c)) if c == closure => {}
            Value::Function(Function::Closure(c)) if path.contains(&closure_ptr(c)) => {
                return Err(
                    "cannot store functions that refer to each other through upvalues".into(),
                )
            }
            Value::Thread(_) => {
                return Err("cannot store a function with a coroutine upvalue".into())
            }
            Value::UserData(_) => {
                return Err("cannot store a function with a userdata upvalue".into())
            }
            v @ (Value::Table(_) | Value::Function(_)) => values.push(v),
            _ => {}
        }
    }
    Ok(values)
}

/// The identity of a closure, for cycle checks.
pub fn identity(function: Function<'_>) -> *const () {
    match function {
        Function::Closure(c) => closure_ptr(c),
        Function::Callback(c) => callback_ptr(c),
    }
}

/// Writes the payload of tag `05` for `function`. `table_id` maps a table (external, or
/// planned to be) to its id; `value` encodes an upvalue value (nested functions included).
pub fn encode<'gc>(
    ctx: Context<'gc>,
    names: &BuiltinNames,
    upvalues: &UpvalueValues<'gc>,
    function: Function<'gc>,
    table_id: &dyn Fn(Table<'gc>) -> u32,
    out: &mut Vec<u8>,
) {
    let mut refs = HashSet::new();
    let mut body = Vec::new();
    encode_body(
        ctx, names, upvalues, function, table_id, &mut refs, &mut body,
    );
    let mut refs: Vec<u32> = refs.into_iter().collect();
    refs.sort_unstable();
    let mut w = Writer(out);
    w.u32(refs.len() as u32);
    for id in refs {
        w.u32(id);
    }
    out.extend_from_slice(&body);
}

fn encode_body<'gc>(
    ctx: Context<'gc>,
    names: &BuiltinNames,
    upvalues: &UpvalueValues<'gc>,
    function: Function<'gc>,
    table_id: &dyn Fn(Table<'gc>) -> u32,
    refs: &mut HashSet<u32>,
    out: &mut Vec<u8>,
) {
    let closure = match function {
        Function::Callback(cb) => {
            let name = names.name(cb).expect("checked by visit");
            out.push(KIND_BUILTIN);
            Writer(out).u32(name.len() as u32);
            out.extend_from_slice(name.as_bytes());
            return;
        }
        Function::Closure(c) => c,
    };
    out.push(KIND_CLOSURE);
    let proto_bytes = proto::dump(&closure.prototype(), false);
    Writer(out).u32(proto_bytes.len() as u32);
    out.extend_from_slice(&proto_bytes);
    let values = upvalues.get(closure).expect("resolved before encoding");
    Writer(out).u32(values.len() as u32);
    for value in values {
        match value {
            Value::Table(t) if t == ctx.globals() => out.push(UPVALUE_GLOBALS),
            Value::Function(Function::Closure(c)) if c == closure => out.push(UPVALUE_SELF),
            v => {
                out.push(UPVALUE_VALUE);
                let mut w = Writer(out);
                if crate::ext::write_scalar(&mut w, v) {
                    continue;
                }
                match v {
                    Value::Table(t) => {
                        let id = table_id(t);
                        refs.insert(id);
                        w.table_ref(id);
                    }
                    Value::Function(f) => {
                        let mut nested = Vec::new();
                        encode_body(ctx, names, upvalues, f, table_id, refs, &mut nested);
                        // Nested functions carry no reference list of their own: the
                        // outermost one lists them all.
                        let mut payload = Vec::with_capacity(nested.len() + 4);
                        Writer(&mut payload).u32(0);
                        payload.extend_from_slice(&nested);
                        Writer(out).function(&payload);
                    }
                    _ => unreachable!("scalars are written above; others refused by `captured`"),
                }
            }
        }
    }
}

/// The table ids listed at the front of a function payload.
pub fn references(payload: &[u8]) -> Result<Vec<u32>, HostError> {
    let mut r = Reader::new(payload);
    let n = r.u32().map_err(bad)?;
    (0..n).map(|_| r.u32().map_err(bad)).collect()
}

fn bad(e: impl std::fmt::Display) -> HostError {
    HostError(format!("stored function is damaged: {e}"))
}

/// Rebuilds a stored function in `ctx`; globals resolve in this state.
pub fn decode<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    payload: &[u8],
    depth: usize,
) -> Result<Function<'gc>, HostError> {
    if depth > MAX_FUNCTION_DEPTH {
        return Err(bad("functions nested too deeply"));
    }
    let mut r = Reader::new(payload);
    let refs = r.u32().map_err(bad)?;
    for _ in 0..refs {
        r.u32().map_err(bad)?;
    }
    let rest = &payload[r.position()..];
    let (&kind, rest) = rest.split_first().ok_or_else(|| bad("no kind byte"))?;
    let mut r = Reader::new(rest);
    let function = match kind {
        KIND_BUILTIN => {
            let len = r.u32().map_err(bad)? as usize;
            let name = rest
                .get(4..4 + len)
                .ok_or_else(|| bad("builtin name truncated"))?;
            let name = std::str::from_utf8(name).map_err(bad)?;
            r = Reader::new(&rest[4 + len..]);
            builtin(ctx, name)?
        }
        KIND_CLOSURE => {
            let len = r.u32().map_err(bad)? as usize;
            let proto_bytes = rest
                .get(4..4 + len)
                .ok_or_else(|| bad("prototype truncated"))?;
            let proto = proto::undump_detached(ctx, proto_bytes).map_err(bad)?;
            let mut r2 = Reader::new(&rest[4 + len..]);
            let count = r2.u32().map_err(bad)? as usize;
            if count != proto.upvalues.len() {
                return Err(bad(format!(
                    "{count} upvalues stored for a function that has {}",
                    proto.upvalues.len()
                )));
            }
            let at = 4 + len + r2.position();
            let (closure, used) = decode_closure(ctx, ext, shared, proto, &rest[at..], depth)?;
            r = Reader::new(&rest[at + used..]);
            Function::Closure(closure)
        }
        k => return Err(bad(format!("unknown function kind {k}"))),
    };
    if !r.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(function)
}

fn decode_closure<'gc>(
    ctx: Context<'gc>,
    ext: &Ext<'gc>,
    shared: &Shared,
    proto: piccolo::FunctionPrototype<'gc>,
    bytes: &[u8],
    depth: usize,
) -> Result<(Closure<'gc>, usize), HostError> {
    let count = proto.upvalues.len();
    let mut upvalues = vec::Vec::with_capacity_in(count, MetricsAlloc::new(&ctx));
    let mut selves = Vec::new();
    let mut pos = 0;
    for i in 0..count {
        let (&tag, rest) = bytes[pos..]
            .split_first()
            .ok_or_else(|| bad("upvalues truncated"))?;
        pos += 1;
        let value = match tag {
            UPVALUE_GLOBALS => Value::Table(ctx.globals()),
            UPVALUE_SELF => {
                selves.push(i);
                Value::Nil
            }
            UPVALUE_VALUE => {
                let mut r = Reader::new(rest);
                let item = r.item().map_err(bad)?;
                pos += r.position();
                match item {
                    Item::Nil => Value::Nil,
                    Item::Boolean(b) => Value::Boolean(b),
                    Item::Integer(n) => Value::Integer(n),
                    Item::Float(f) => Value::Number(f),
                    Item::String(s) => Value::String(piccolo::String::from_slice(&ctx, s)),
                    Item::TableRef(id) => {
                        if !shared.is_known_id(id) {
                            return Err(bad(format!("upvalue refers to unknown table {id}")));
                        }
                        Value::Table(ext.proxy(&ctx, ctx, id))
                    }
                    Item::Function(p) => Value::Function(decode(ctx, ext, shared, p, depth + 1)?),
                    _ => return Err(bad("upvalue of a kind that cannot be stored")),
                }
            }
            t => return Err(bad(format!("unknown upvalue tag {t}"))),
        };
        upvalues.push(UpValue::new(&ctx, UpValueState::Closed(value)));
    }
    let upvalue_handles: Vec<UpValue<'gc>> = upvalues.iter().copied().collect();
    let closure = Closure::from_parts(&ctx, Gc::new(&ctx, proto), upvalues);
    for i in selves {
        upvalue_handles[i].set(&ctx, UpValueState::Closed(closure.into()));
    }
    Ok((closure, pos))
}

/// The stored name of the hidden method-call helper (an upvalue of functions that make
/// method calls); not a Lua identifier, so no global can clash with it.
const METHOD_CALL_HELPER: &str = "(method call)";

fn builtin<'gc>(ctx: Context<'gc>, name: &str) -> Result<Function<'gc>, HostError> {
    if name == METHOD_CALL_HELPER {
        return Ok(Function::Callback(stdlib::method_call_helper(ctx)));
    }
    let mut value = Value::Table(ctx.globals());
    for part in name.split('.') {
        value = match value {
            Value::Table(t) => t.get_value(Value::String(ctx.intern(part.as_bytes()))),
            _ => Value::Nil,
        };
    }
    match value {
        Value::Function(f) => Ok(f),
        _ => Err(HostError(format!(
            "stored builtin '{name}' does not exist in this state"
        ))),
    }
}
