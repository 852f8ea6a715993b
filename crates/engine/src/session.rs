//! [`Engine`]: one Lua state, its external tables, and the run loop with its limits.
//!
//! Runs follow piccolo's `Lua::finish`: a stashed `Executor` is stepped with a slice of
//! [`Fuel`]; between slices the arena collects garbage, the instruction budget and the heap
//! cap are checked, and output is flushed. Slices shrink when a script allocates fast, so
//! collection keeps up with garbage-heavy loops.

use std::rc::Rc;

use gc_arena::{metrics::Pacing, Gc, Rootable};
use piccolo::{
    Callback, CallbackReturn, Context, Error, Executor, Fuel, Function, Lua, StashedExecutor,
    StashedUserData, Table, UserData, Value, Variadic,
};

use crate::codec::{self, Writer};
use crate::ext::{self, Ext, Shared, FIRST_TABLE_ID, IO_TABLE_ID};
use crate::host::{Host, HostError};
use crate::proto;
pub use stdlib::display_chunk_name;

/// Why a run or a call failed. The numbers are ABI v1 error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorKind {
    Syntax = 1,
    Runtime = 2,
    InstructionLimit = 3,
    MemoryLimit = 4,
    BadInput = 5,
}

/// A failed run: its kind and a message that names the chunk and line where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
    fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        Failure::bad_input(e.to_string())
    }
}

/// Progress of a run started with [`Engine::start`].
#[derive(Debug, PartialEq)]
pub enum Step {
    /// More work remains: call [`Engine::resume`] again.
    Pending,
    /// The run ended: the encoded results (`u32 count`, then the values) or the failure.
    Finished(Result<Vec<u8>, Failure>),
}

/// Caps that end a run with a typed error and leave the engine usable.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Instructions (piccolo fuel units) per run; 0 means no limit.
    pub instructions: u64,
    /// Bytes the Lua heap may hold (after a full collection) before the run is stopped.
    pub heap_bytes: usize,
    /// Largest chunk accepted, in bytes.
    pub source_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            instructions: 0,
            heap_bytes: 128 * 1024 * 1024,
            source_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Fuel per slice starts here and adapts between these bounds.
const INITIAL_SLICE: i32 = 4096;
const MIN_SLICE: i32 = 64;
const MAX_SLICE: i32 = 32 * 1024;
/// Net heap growth per slice above which slices shrink, and below which they grow.
const SLICE_GROWTH_HIGH: usize = 1024 * 1024;
const SLICE_GROWTH_LOW: usize = 128 * 1024;

/// Instructions a host call made inside a loop of one operation is charged as.
const HOST_CALL_FUEL: u64 = 16;

/// The heap may grow to this before a full collection, however little is live.
const GC_FLOOR_BYTES: usize = 512 * 1024;

struct Run {
    executor: StashedExecutor,
    fuel_used: u64,
}

/// One Lua state with `_home`, `Memory`, `_io`, `ext` and the standard library.
pub struct Engine {
    lua: Lua,
    shared: Rc<Shared>,
    ext: StashedUserData,
    run: Option<Run>,
    slice: i32,
    limits: Limits,
    peak_heap: usize,
    gc_threshold: usize,
    /// The running chunk's name as shown in messages.
    chunk: String,
}

/// The arena root that lets engine code find the [`Ext`] machinery.
type ExtRoot = Rootable![Gc<'_, Ext<'_>>];

pub(crate) fn ext_of<'gc>(ctx: Context<'gc>, stash: &StashedUserData) -> Gc<'gc, Ext<'gc>> {
    *ctx.fetch(stash)
        .downcast::<ExtRoot>()
        .expect("engine userdata holds Ext")
}

struct EnginePlatform(Rc<Shared>);

impl stdlib::Platform for EnginePlatform {
    fn write_output(&self, bytes: &[u8]) {
        self.0.write_output(bytes);
    }
    fn now_ms(&self) -> f64 {
        self.0.host.now_ms()
    }
    fn clock_ms(&self) -> f64 {
        self.0.host.clock_ms()
    }
    fn fill_random(&self, buf: &mut [u8]) {
        self.0.host.fill_random(buf);
    }
}

impl Engine {
    /// A fresh state: `_home` (alias `Memory`) is a new external table, `_io` is table 0.
    pub fn new(host: Rc<dyn Host>) -> Engine {
        let shared = Shared::new(host);
        let mut lua = Lua::empty();
        // Collect sooner than gc-arena's default so garbage-heavy loops stay small.
        lua.gc_metrics().set_pacing(
            Pacing::default()
                .with_pause_factor(0.5)
                .with_timing_factor(1.0)
                .with_min_sleep(256 * 1024),
        );
        let ext = lua.enter(|ctx| {
            stdlib::load(ctx, Rc::new(EnginePlatform(shared.clone())));
            let ext = Ext::new(ctx, shared.clone());
            install_ext_library(ctx, ext, &shared);
            install_binary_chunks(ctx, &shared);
            let home_id = shared.allocate_id().expect("fresh counter");
            shared.memory_table_id.set(home_id);
            ctx.set_global("_io", ext.proxy(&ctx, ctx, IO_TABLE_ID))
                .unwrap();
            install_raw_access(ctx, ext, &shared);
            ext.register_libraries(ctx);
            install_home_guard(ctx, ext, &shared);
            ctx.stash(UserData::new::<ExtRoot>(&ctx, ext))
        });
        Engine {
            lua,
            shared,
            ext,
            run: None,
            slice: INITIAL_SLICE,
            limits: Limits::default(),
            peak_heap: 0,
            gc_threshold: GC_FLOOR_BYTES,
            chunk: String::new(),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Runs a chunk to completion (or to a limit).
    pub fn compute(&mut self, chunk_name: &str, source: &[u8]) -> Result<Vec<u8>, Failure> {
        self.start(chunk_name, source)?;
        loop {
            if let Step::Finished(result) = self.resume(u64::MAX) {
                return result;
            }
        }
    }

    /// Compiles a chunk and prepares to run it; any run in progress is abandoned.
    ///
    /// `chunk_name` follows Lua: `=name` and `@file` are shown as given, anything else as
    /// `[string "..."]`.
    pub fn start(&mut self, chunk_name: &str, source: &[u8]) -> Result<(), Failure> {
        self.run = None;
        if source.len() > self.limits.source_bytes {
            return Err(Failure::bad_input(format!(
                "chunk too large: {} bytes (limit {})",
                source.len(),
                self.limits.source_bytes
            )));
        }
        let shown = display_chunk_name(chunk_name.as_bytes());
        let executor = self.lua.enter(|ctx| {
            let closure = stdlib::compile(ctx, chunk_name.as_bytes(), source, ctx.globals())
                .map_err(|message| Failure::new(ErrorKind::Syntax, message))?;
            Ok::<_, Failure>(ctx.stash(Executor::start(ctx, closure.into(), ())))
        })?;
        self.run = Some(Run {
            executor,
            fuel_used: 0,
        });
        self.chunk = shown;
        Ok(())
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.run.is_some()
    }

    /// Runs the current chunk for at most about `max_fuel` instructions.
    pub fn resume(&mut self, max_fuel: u64) -> Step {
        let step = self.resume_inner(max_fuel);
        self.shared.flush_output();
        if let Step::Finished(Err(f)) = &step {
            if f.kind == ErrorKind::MemoryLimit {
                // The run's garbage is unreachable now; give it back before the next call.
                self.lua.gc_collect();
            }
        }
        step
    }

    fn resume_inner(&mut self, max_fuel: u64) -> Step {
        if self.run.is_none() {
            return Step::Finished(Err(Failure::bad_input("no chunk is running")));
        }
        let mut spent_here = 0u64;
        loop {
            let run = self.run.as_mut().expect("checked above");
            let budget_left = match self.limits.instructions {
                0 => u64::MAX,
                n => n.saturating_sub(run.fuel_used),
            };
            if budget_left == 0 {
                self.run = None;
                return Step::Finished(Err(Failure::new(
                    ErrorKind::InstructionLimit,
                    format!(
                        "instruction limit exceeded ({} instructions)",
                        self.limits.instructions
                    ),
                )));
            }
            let slice = (self.slice as u64)
                .min(budget_left)
                .min(max_fuel.saturating_sub(spent_here).max(1)) as i32;
            let mut fuel = Fuel::with(slice);
            let before = self.lua.total_memory();
            let executor = &run.executor;
            let done = self
                .lua
                .enter(|ctx| ctx.fetch(executor).step(ctx, &mut fuel));
            // Host calls made by loops inside one operation cost fuel too.
            let loop_fuel = self.shared.loop_calls.replace(0) * HOST_CALL_FUEL;
            let used = (slice - fuel.remaining()).max(0) as u64 + loop_fuel;
            run.fuel_used += used;
            spent_here += used;
            let after = self.lua.total_memory();
            self.peak_heap = self.peak_heap.max(after);
            self.adapt_slice(after.saturating_sub(before));
            // gc-arena's incremental pacing lags behind fast garbage (a string rebuilt each
            // iteration): collect fully whenever the heap doubles over what was live, which
            // bounds the peak at about twice the live data plus one slice's allocation.
            if after > self.gc_threshold || after > self.limits.heap_bytes {
                self.lua.gc_collect();
                let live = self.lua.total_memory();
                self.gc_threshold = (live * 2).max(GC_FLOOR_BYTES);
                if live > self.limits.heap_bytes {
                    self.run = None;
                    return Step::Finished(Err(Failure::new(
                        ErrorKind::MemoryLimit,
                        format!(
                            "not enough memory: Lua heap {} bytes over the limit of {}",
                            live, self.limits.heap_bytes
                        ),
                    )));
                }
            }
            if done {
                let run = self.run.take().expect("run in progress");
                return Step::Finished(self.finish(&run.executor));
            }
            if spent_here >= max_fuel {
                return Step::Pending;
            }
        }
    }

    fn adapt_slice(&mut self, grown: usize) {
        if grown > SLICE_GROWTH_HIGH {
            self.slice = (self.slice / 2).max(MIN_SLICE);
        } else if grown < SLICE_GROWTH_LOW {
            self.slice = (self.slice * 2).min(MAX_SLICE);
        }
    }

    fn finish(&mut self, executor: &StashedExecutor) -> Result<Vec<u8>, Failure> {
        let stash = &self.ext;
        let chunk = &self.chunk;
        self.lua.enter(|ctx| {
            let ext = ext_of(ctx, stash);
            match ctx.fetch(executor).take_result::<Variadic<Vec<Value>>>(ctx) {
                Ok(Ok(values)) => encode_results(&ext, &values.0),
                Ok(Err(error)) => Err(error_failure(ctx, chunk, error)),
                Err(mode) => Err(Failure::new(ErrorKind::Runtime, mode.to_string())),
            }
        })
    }

    /// Lets `load` accept binary chunks (`string.dump` output). Off by default: bytecode is
    /// validated, but a sandbox need not accept it at all.
    pub fn set_binary_chunks(&mut self, allowed: bool) {
        self.shared.allow_binary.set(allowed);
    }

    /// Runs a full collection cycle.
    pub fn collect_garbage(&mut self) {
        self.lua.gc_collect();
    }

    /// Bytes held by the Lua heap (gc-arena's count, strings and tables included).
    pub fn heap_bytes(&self) -> usize {
        self.lua.total_memory()
    }

    /// The largest Lua heap seen between slices since the engine was made.
    pub fn peak_heap_bytes(&self) -> usize {
        self.peak_heap
    }

    pub fn memory_table_id(&self) -> u32 {
        self.shared.memory_table_id.get()
    }

    pub fn next_table_id(&self) -> u32 {
        self.shared.next_id.get()
    }

    /// Raises the id counter to `next` (it never goes down, so live ids are never reused).
    pub fn sync_table_counter(&mut self, next: u32) {
        let current = self.shared.next_id.get();
        self.shared
            .next_id
            .set(current.max(next.max(FIRST_TABLE_ID)));
    }

    /// Points `_home` and `Memory` at table `id` (after a restore).
    pub fn attach_memory_table(&mut self, id: u32) -> Result<(), Failure> {
        if id < FIRST_TABLE_ID {
            return Err(Failure::bad_input(format!(
                "table {id} cannot be the memory table"
            )));
        }
        if id >= self.shared.next_id.get() {
            self.sync_table_counter(id.saturating_add(1));
        }
        // The globals' metatable serves `_home` and `Memory` from this id.
        self.shared.memory_table_id.set(id);
        Ok(())
    }

    /// Allocates a table id for the host.
    pub fn table_new(&mut self) -> Result<u32, Failure> {
        Ok(self.shared.allocate_id()?)
    }

    fn check_id(&self, id: u32) -> Result<(), Failure> {
        if self.shared.is_known_id(id) {
            Ok(())
        } else {
            Err(Failure::bad_input(format!(
                "external table {id} was never allocated"
            )))
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<(), Failure> {
        codec::validate_key(key).map_err(|e| Failure::bad_input(e.to_string()))
    }

    /// Stores an encoded value; nil deletes. Everything is validated before the host sees it.
    pub fn table_set(&mut self, id: u32, key: &[u8], value: &[u8]) -> Result<(), Failure> {
        self.check_id(id)?;
        self.check_key(key)?;
        codec::validate_value(value).map_err(|e| Failure::bad_input(e.to_string()))?;
        match codec::Reader::new(value).item() {
            Ok(codec::Item::Nil) => return self.table_delete(id, key),
            Ok(codec::Item::TableRef(r)) => self.check_id(r)?,
            Ok(codec::Item::InlineTable(_) | codec::Item::Opaque(_)) => {
                return Err(Failure::bad_input(
                    "inline tables and opaque values cannot be stored",
                ))
            }
            _ => {}
        }
        if let Ok(codec::Item::TableRef(r)) = codec::Reader::new(key).item() {
            self.check_id(r)?;
        }
        self.shared.generation.set(self.shared.generation.get() + 1);
        Ok(self.shared.host.table_set(id, key, value)?)
    }

    /// The encoded value under `key`, or `None`.
    pub fn table_get(&mut self, id: u32, key: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
        self.check_id(id)?;
        self.check_key(key)?;
        let mut out = Vec::new();
        if self.shared.host.table_get(id, key, &mut out)? {
            codec::validate_value(&out).map_err(|e| Failure::bad_input(e.to_string()))?;
            Ok(Some(out))
        } else {
            Ok(None)
        }
    }

    pub fn table_delete(&mut self, id: u32, key: &[u8]) -> Result<(), Failure> {
        self.check_id(id)?;
        self.check_key(key)?;
        self.shared.generation.set(self.shared.generation.get() + 1);
        Ok(self.shared.host.table_delete(id, key)?)
    }

    pub fn table_size(&mut self, id: u32) -> Result<u32, Failure> {
        self.check_id(id)?;
        Ok(self.shared.host.table_size(id)?)
    }

    /// `u32 count` then every key, validated.
    pub fn table_keys(&mut self, id: u32) -> Result<Vec<u8>, Failure> {
        self.check_id(id)?;
        let mut out = Vec::new();
        self.shared.host.table_keys(id, &mut out)?;
        let mut reader = codec::Reader::new(&out);
        let count = reader
            .u32()
            .map_err(|e| Failure::bad_input(e.to_string()))?;
        for _ in 0..count {
            let start = reader.position();
            reader
                .skip_value(0)
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            self.check_key(&out[start..reader.position()])?;
        }
        if !reader.is_empty() {
            return Err(Failure::bad_input("key list has trailing bytes"));
        }
        Ok(out)
    }
}

fn error_failure<'gc>(ctx: Context<'gc>, chunk: &str, error: Error<'gc>) -> Failure {
    match error {
        Error::Lua(value) => Failure::new(ErrorKind::Runtime, error_value_message(ctx, value.0)),
        Error::Runtime(e) => {
            if let Some(host) = e.downcast::<HostError>() {
                Failure::bad_input(host.to_string())
            } else {
                Failure::new(
                    ErrorKind::Runtime,
                    format!("{chunk}: {}", vm_error_message(&e.to_string())),
                )
            }
        }
    }
}

/// Rephrases piccolo's VM errors the way Lua 5.4 words them. piccolo 0.3.3 does not expose
/// the failing instruction, so these name the chunk but not the line.
fn vm_error_message(piccolo: &str) -> String {
    if let Some(rest) = piccolo.strip_prefix("type error, expected ") {
        if let Some((expected, found)) = rest.split_once(", found ") {
            let action = match expected {
                "table" => "index",
                "function" => "call",
                "string or table" => "get length of",
                _ => return format!("bad operand ({expected} expected, got {found})"),
            };
            return format!("attempt to {action} a {found} value");
        }
    }
    if let Some(what) = piccolo.strip_prefix("cannot concat ") {
        return format!("attempt to concatenate a {what} value");
    }
    if let Some(op) = piccolo.strip_prefix("cannot compare values with ") {
        return format!("attempt to compare incompatible values with {op}");
    }
    if let Some(op) = piccolo.strip_prefix("cannot ").and_then(|r| {
        r.strip_suffix(" values")
            .or_else(|| r.strip_suffix(" value"))
    }) {
        return if op.starts_with("bitwise") || op.starts_with("shift") {
            format!("attempt to perform a bitwise operation ({op}) on a non-integer value")
        } else {
            format!("attempt to perform arithmetic ({op}) on a non-number value")
        };
    }
    piccolo.to_string()
}

fn error_value_message<'gc>(_ctx: Context<'gc>, value: Value<'gc>) -> String {
    match value {
        Value::String(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        Value::Integer(_) | Value::Number(_) => value.to_string(),
        Value::UserData(ud) => match ud.downcast_static::<piccolo::RuntimeError>() {
            Ok(e) => e.to_string(),
            Err(_) => "(error object is a userdata value)".into(),
        },
        other => format!("(error object is a {} value)", other.type_name()),
    }
}

/// `u32 count` then each value; plain tables inline, external tables by reference.
fn encode_results<'gc>(ext: &Ext<'gc>, values: &[Value<'gc>]) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    Writer(&mut out).u32(values.len() as u32);
    let mut path = Vec::new();
    for &v in values {
        encode_result(ext, v, &mut out, &mut path)?;
    }
    Ok(out)
}

fn encode_result<'gc>(
    ext: &Ext<'gc>,
    value: Value<'gc>,
    out: &mut Vec<u8>,
    path: &mut Vec<Table<'gc>>,
) -> Result<(), Failure> {
    let mut w = Writer(out);
    if ext::write_scalar(&mut w, value) {
        return Ok(());
    }
    match value {
        Value::Table(t) => {
            if let Some(id) = ext.id_of(value) {
                w.table_ref(id);
                return Ok(());
            }
            if path.contains(&t) {
                return Err(Failure::new(
                    ErrorKind::Runtime,
                    "cannot return a table that contains itself",
                ));
            }
            if path.len() >= codec::MAX_INLINE_DEPTH {
                return Err(Failure::new(
                    ErrorKind::Runtime,
                    "returned tables are nested too deeply",
                ));
            }
            let count = t.iter().count();
            w.inline_table(count as u32);
            path.push(t);
            for (k, v) in t.iter() {
                encode_result(ext, k, out, path)?;
                encode_result(ext, v, out, path)?;
            }
            path.pop();
        }
        other => w.opaque(other.type_name().as_bytes()),
    }
    Ok(())
}

/// The `ext` library: `ext.table([t])`, `ext.id(t)`, `ext.size(t)` (alias `ext.table_size`).
fn install_ext_library<'gc>(ctx: Context<'gc>, ext: Gc<'gc, Ext<'gc>>, shared: &Rc<Shared>) {
    let lib = Table::new(&ctx);
    let shared_new = shared.clone();
    let new_table = Callback::from_fn_with(&ctx, ext, move |ext, ctx, exec, mut stack| {
        let init = stack.get(0);
        let proxy = match init {
            Value::Nil => {
                let id = shared_new.allocate_id()?;
                ext.proxy(&ctx, ctx, id)
            }
            Value::Table(t) if ext.id_of(init).is_none() => {
                // The table itself is the result (also when upvalues must be read first).
                let action = ext::Action::Convert(t);
                return ext::Resolve::run(ctx, *ext, &shared_new, exec, stack, action, init);
            }
            _ => {
                return Err(ext::located_error(
                    ctx,
                    &exec,
                    "bad argument #1 to 'table' (plain table or nil expected)",
                ))
            }
        };
        stack.replace(ctx, proxy);
        Ok(CallbackReturn::Return)
    });
    lib.set(ctx, "table", new_table).unwrap();
    lib.set(
        ctx,
        "id",
        Callback::from_fn_with(&ctx, ext, |ext, ctx, _, mut stack| {
            let id = ext.id_of(stack.get(0));
            stack.replace(ctx, id.map(|id| id as i64));
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();
    let shared_size = shared.clone();
    let size = Callback::from_fn_with(&ctx, ext, move |ext, ctx, exec, mut stack| {
        let Some(id) = ext.id_of(stack.get(0)) else {
            return Err(ext::located_error(
                ctx,
                &exec,
                "bad argument #1 to 'size' (external table expected)",
            ));
        };
        let n = shared_size.host.table_size(id)?;
        stack.replace(ctx, n as i64);
        Ok(CallbackReturn::Return)
    });
    lib.set(ctx, "size", size).unwrap();
    lib.set(ctx, "table_size", size).unwrap();
    ctx.set_global("ext", lib).unwrap();
}

/// `rawget` and `rawset` on an external table read and write its entries; on other tables
/// they are the library's.
fn install_raw_access<'gc>(ctx: Context<'gc>, ext: Gc<'gc, Ext<'gc>>, shared: &Rc<Shared>) {
    let (Value::Function(lib_get), Value::Function(lib_set)) =
        (ctx.get_global("rawget"), ctx.get_global("rawset"))
    else {
        return;
    };
    let shared_get = shared.clone();
    let get = Callback::from_fn_with(&ctx, (ext, lib_get), move |root, ctx, _, mut stack| {
        let (ext, lib_get) = *root;
        let Some(id) = ext.id_of(stack.get(0)) else {
            return Ok(CallbackReturn::Call {
                function: lib_get,
                then: None,
            });
        };
        let value = ext::raw_get(ctx, &ext, &shared_get, id, stack.get(1))?;
        stack.replace(ctx, value);
        Ok(CallbackReturn::Return)
    });
    let shared_set = shared.clone();
    let set = Callback::from_fn_with(&ctx, (ext, lib_set), move |root, ctx, exec, stack| {
        let (ext, lib_set) = *root;
        let Some(id) = ext.id_of(stack.get(0)) else {
            return Ok(CallbackReturn::Call {
                function: lib_set,
                then: None,
            });
        };
        ext::raw_set(ctx, ext, &shared_set, exec, stack, id)
    });
    ctx.set_global("rawget", get).unwrap();
    ctx.set_global("rawset", set).unwrap();
}

/// `_home` and `Memory` are served by a protected metatable on the globals: assigning
/// them anything but the persistent table is an error, so a script cannot detach it.
fn install_home_guard<'gc>(ctx: Context<'gc>, ext: Gc<'gc, Ext<'gc>>, shared: &Rc<Shared>) {
    fn home_name(key: Value<'_>) -> Option<&'static str> {
        match key {
            Value::String(s) if s.as_bytes() == b"_home" => Some("_home"),
            Value::String(s) if s.as_bytes() == b"Memory" => Some("Memory"),
            _ => None,
        }
    }
    let meta = Table::new(&ctx);
    let shared_index = shared.clone();
    let index = Callback::from_fn_with(&ctx, ext, move |ext, ctx, _, mut stack| {
        let value = if home_name(stack.get(1)).is_some() {
            Value::Table(ext.proxy(&ctx, ctx, shared_index.memory_table_id.get()))
        } else {
            Value::Nil
        };
        stack.replace(ctx, value);
        Ok(CallbackReturn::Return)
    });
    let shared_new = shared.clone();
    let new_index = Callback::from_fn_with(&ctx, ext, move |ext, ctx, exec, mut stack| {
        let (globals, key, value) = (stack.get(0), stack.get(1), stack.get(2));
        stack.clear();
        let Some(name) = home_name(key) else {
            let Value::Table(globals) = globals else {
                return Err(ext::located_error(ctx, &exec, "bad globals table"));
            };
            globals.set(ctx, key, value)?;
            return Ok(CallbackReturn::Return);
        };
        if ext.id_of(value) == Some(shared_new.memory_table_id.get()) {
            return Ok(CallbackReturn::Return);
        }
        Err(ext::located_error(
            ctx,
            &exec,
            &format!(
                "cannot assign to '{name}': it is the persistent table (assign its fields instead)"
            ),
        ))
    });
    let set = |k: &'static str, v: Value<'gc>| meta.set(ctx, k, v).unwrap();
    set("__index", index.into());
    set("__newindex", new_index.into());
    set(
        "__metatable",
        ctx.intern_static(b"protected globals").into(),
    );
    ctx.globals().set_metatable(&ctx, Some(meta));
}

/// `string.dump`, and `load` for binary chunks (the rest of `load` is the library's).
fn install_binary_chunks<'gc>(ctx: Context<'gc>, shared: &Rc<Shared>) {
    let dump = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let Value::Function(Function::Closure(closure)) = stack.get(0) else {
            return Err(ext::located_error(
                ctx,
                &exec,
                "unable to dump given function",
            ));
        };
        let strip = stack.get(1).to_bool();
        let bytes = proto::dump(&closure.prototype(), strip);
        stack.replace(ctx, Value::String(piccolo::String::from_slice(&ctx, bytes)));
        Ok(CallbackReturn::Return)
    });
    if let Value::Table(string) = ctx.get_global("string") {
        string.set(ctx, "dump", dump).unwrap();
    }
    let Value::Function(text_load) = ctx.get_global("load") else {
        return;
    };
    let shared = shared.clone();
    let load = Callback::from_fn_with(&ctx, text_load, move |text_load, ctx, _, mut stack| {
        let Value::String(chunk) = stack.get(0) else {
            return Ok(CallbackReturn::Call {
                function: *text_load,
                then: None,
            });
        };
        if !proto::is_binary_chunk(chunk.as_bytes()) {
            return Ok(CallbackReturn::Call {
                function: *text_load,
                then: None,
            });
        }
        let mode = match stack.get(2) {
            Value::String(m) => String::from_utf8_lossy(m.as_bytes()).into_owned(),
            _ => "bt".to_string(),
        };
        let env = if stack.len() >= 4 {
            stack.get(3)
        } else {
            Value::Table(ctx.globals())
        };
        let refuse = |stack: &mut piccolo::Stack<'gc, '_>, msg: String| {
            stack.replace(ctx, (Value::Nil, Value::String(ctx.intern(msg.as_bytes()))));
            Ok(CallbackReturn::Return)
        };
        if !mode.contains('b') {
            return refuse(
                &mut stack,
                format!("attempt to load a binary chunk (mode is '{mode}')"),
            );
        }
        if !shared.allow_binary.get() {
            return refuse(&mut stack, "binary chunks are disabled by the host".into());
        }
        let proto = match proto::undump_detached(ctx, chunk.as_bytes()) {
            Ok(p) => p,
            Err(e) => return refuse(&mut stack, e.to_string()),
        };
        // As in Lua: the first upvalue is the environment, any others start as nil.
        let closure = stdlib::main_closure(ctx, proto, env);
        stack.replace(ctx, closure);
        Ok(CallbackReturn::Return)
    });
    ctx.set_global("load", load).unwrap();
}
