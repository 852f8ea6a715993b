//! [`Engine`]: one Lua state of our VM, its external tables, and the run loop with its
//! limits. Runs are stepped with fuel ([`vm::Lua::step`]); the VM collects
//! garbage between steps and enforces the memory limit itself.

use std::rc::Rc;

use vm::function::NativeClosure;
use vm::interp::{Action, Error, NativeCall};
use vm::table::Table;
use vm::{Config, Ctx, Lua, Value};

use crate::codec::{self, Writer};
use crate::ext::{Store, FIRST_TABLE_ID, HOST_ERROR_PREFIX, IO_TABLE_ID};
use crate::handles;
use crate::host::{Host, HostError};
use stdlib::set_field;
use vm::lib::{at, bug};

/// Why a run or a call failed. The numbers are ABI v1 error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ErrorKind {
    Syntax = 1,
    Runtime = 2,
    InstructionLimit = 3,
    MemoryLimit = 4,
    BadInput = 5,
    /// The script called `os.exit`: the message is the exit status in decimal.
    Exit = 7,
}

/// A failed run: its kind and a message that names the chunk and line where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
    /// `stack traceback:` and its lines for runtime errors, else empty.
    pub traceback: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
            traceback: String::new(),
        }
    }

    /// The message, then the traceback on the lines after it (what the module reports).
    pub fn with_traceback(&self) -> String {
        if self.traceback.is_empty() {
            self.message.clone()
        } else {
            format!("{}\n{}", self.message, self.traceback)
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
    /// A host function was called: `u32 count`, then its id (an integer) and the arguments. The run
    /// waits for [`Engine::host_return`].
    Waiting(Vec<u8>),
}

/// Caps that end a run with a typed error and leave the engine usable.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// VM instructions per run; 0 means no limit.
    pub instructions: u64,
    /// Bytes the Lua heap may hold; past it, allocations fail with "not enough memory".
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

/// Fuel per step: small enough that a host's `resume(fuel)` is honoured closely.
const SLICE: u64 = 16 * 1024;

/// How Lua shows a chunk name in messages (`luaO_chunkid`).
pub fn display_chunk_name(name: &[u8]) -> String {
    vm::proto::chunk_id(name)
}

/// The VM's view of the host: output, clock, entropy, and the host's streams and files.
struct VmHost(Rc<Store>);

impl vm::Host for VmHost {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_output(bytes);
    }
    fn warn(&mut self, message: &[u8]) {
        let mut line = b"Lua warning: ".to_vec();
        line.extend_from_slice(message);
        line.push(b'\n');
        self.write_err(&line);
    }
    fn flush(&mut self) {
        self.0.flush_output();
    }
    fn write_err(&mut self, bytes: &[u8]) {
        // What standard output holds goes first, so that a terminal shows both in order.
        self.0.flush_output();
        self.0.host.write_error(bytes);
    }
    fn read_stdin(&mut self, buf: &mut [u8]) -> vm::HostResult<usize> {
        self.0.flush_output();
        self.0.host.read_input(buf)
    }
    fn open(&mut self, path: &[u8], mode: vm::OpenMode) -> vm::HostResult<Box<dyn vm::HostFile>> {
        self.0.host.open(path, mode)
    }
    fn tmpfile(&mut self) -> vm::HostResult<Box<dyn vm::HostFile>> {
        self.0.host.tmpfile()
    }
    fn remove(&mut self, path: &[u8]) -> vm::HostResult<()> {
        self.0.host.remove(path)
    }
    fn rename(&mut self, from: &[u8], to: &[u8]) -> vm::HostResult<()> {
        self.0.host.rename(from, to)
    }
    fn tmpname(&mut self) -> vm::HostResult<Vec<u8>> {
        self.0.host.tmpname()
    }
    fn getenv(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        self.0.host.getenv(name)
    }
    fn clock(&mut self) -> f64 {
        self.0.host.clock_ms() / 1000.0
    }
    fn time(&mut self) -> i64 {
        (self.0.host.now_ms() / 1000.0).floor() as i64
    }
    fn random_seed(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.host.fill_random(&mut b);
        u64::from_le_bytes(b)
    }
}

/// One Lua state with `_home`, `Memory`, `_io`, `ext` and the standard library.
pub struct Engine {
    lua: Lua,
    store: Rc<Store>,
    running: bool,
    fuel_used: u64,
    limits: Limits,
    binary_chunks: bool,
    peak_heap: usize,
    /// What the next chunk gets as `...`.
    chunk_args: Vec<Vec<u8>>,
    /// The next chunk's results go to `print` (lua5.4's interactive loop).
    print_next: bool,
    /// This run's results go to `print`.
    print_results: bool,
    /// The run is that call to `print`.
    printing: bool,
    /// Whether functions in results become handles (else opaque, as ABI v1 began).
    function_handles: bool,
    next_handle: u32,
    /// The run is a call of [`handles::TABLE_OPEN`]: a plain table it returns is a handle.
    opening_table: bool,
}

impl Engine {
    /// A fresh state: `_home` (alias `Memory`) is a new external table, `_io` is table 0.
    pub fn new(host: Rc<dyn Host>) -> Engine {
        let store = Store::new(host);
        let limits = Limits::default();
        let mut lua = Lua::with_config(Box::new(VmHost(store.clone())), config(limits, false));
        lua.enter(stdlib::open);
        lua.set_external(store.clone());
        let Ok(home_id) = store.allocate_id() else {
            bug() // a fresh counter has ids to give
        };
        store.memory_table_id.set(home_id);
        lua.enter(|ctx| {
            let io = Value::Table(ctx.external_table(IO_TABLE_ID));
            set_field(ctx, ctx.globals(), b"_io", io);
            install_ext_library(ctx);
            protect_globals(ctx);
            handles::install(ctx);
        });
        let setup = lua.start_chunk(crate::function::SETUP.as_bytes(), b"=setup", &[]);
        if setup.is_err() || !matches!(lua.run(), vm::Step::Done) {
            bug() // the setup chunk compiles and runs
        }
        let mut engine = Engine {
            lua,
            store,
            running: false,
            fuel_used: 0,
            limits,
            binary_chunks: false,
            peak_heap: 0,
            chunk_args: Vec::new(),
            print_next: false,
            print_results: false,
            printing: false,
            function_handles: false,
            next_handle: handles::FIRST_HANDLE,
            opening_table: false,
        };
        engine.point_home_at(home_id);
        engine
    }

    fn point_home_at(&mut self, id: u32) {
        self.lua.enter(|ctx| {
            let home = Value::Table(ctx.external_table(id));
            let served = served_names(ctx);
            set_field(ctx, served, b"_home", home);
            set_field(ctx, served, b"Memory", home);
        });
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
        self.lua.set_config(config(limits, self.binary_chunks));
    }

    /// Runs a chunk to completion (or to a limit).
    pub fn compute(&mut self, chunk_name: &str, source: &[u8]) -> Result<Vec<u8>, Failure> {
        self.start(chunk_name, source)?;
        loop {
            match self.resume(u64::MAX) {
                Step::Finished(result) => return result,
                Step::Pending => {}
                // Nothing here can wait for the host: the call fails in Lua.
                Step::Waiting(_) => {
                    self.lua.host_return(|ctx| {
                        Err(ctx
                            .str_value(b"host functions cannot be called from a synchronous run"))
                    });
                }
            }
        }
    }

    /// Answers the host function the run waits for (`00 u32 count` + results, or `01` + the
    /// error value); [`Engine::resume`] then goes on.
    pub fn host_return(&mut self, answer: &[u8]) -> Result<(), Failure> {
        let store = self.store.clone();
        if self
            .lua
            .host_return(|ctx| handles::decode_answer(ctx, &store, answer))
        {
            Ok(())
        } else {
            Err(Failure::bad_input(
                "no host function is waiting for an answer",
            ))
        }
    }

    /// Compiles a chunk (or, when binary chunks are allowed, loads `string.dump` output) and
    /// prepares to run it; any run in progress is abandoned.
    ///
    /// `chunk_name` follows Lua: `=name` and `@file` are shown as given, anything else as
    /// `[string "..."]`.
    pub fn start(&mut self, chunk_name: &str, source: &[u8]) -> Result<(), Failure> {
        self.running = false;
        self.opening_table = false;
        self.printing = false;
        self.print_results = std::mem::take(&mut self.print_next);
        let args = std::mem::take(&mut self.chunk_args);
        if source.len() > self.limits.source_bytes {
            return Err(Failure::bad_input(format!(
                "chunk too large: {} bytes (limit {})",
                source.len(),
                self.limits.source_bytes
            )));
        }
        if self.binary_chunks && source.first() == Some(&0x1b) {
            // A binary chunk (`string.dump` output), verified as `load` verifies it.
            let proto = vm::dump::undump(source, chunk_name.as_bytes())
                .map_err(|message| Failure::new(ErrorKind::Syntax, message))?;
            self.lua.start(|ctx| {
                let f = ctx.load_proto(proto, None);
                let args = args.iter().map(|a| ctx.str_value(a)).collect();
                (Value::from(f), args)
            });
        } else {
            let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            self.lua
                .start_chunk(source, chunk_name.as_bytes(), &args)
                .map_err(|e| {
                    Failure::new(ErrorKind::Syntax, String::from_utf8_lossy(&e.message))
                })?;
        }
        self.running = true;
        self.fuel_used = 0;
        Ok(())
    }

    /// Strings the next chunk started gets as `...` (a script's arguments); one chunk only.
    pub fn set_chunk_args(&mut self, args: Vec<Vec<u8>>) {
        self.chunk_args = args;
    }

    /// Makes the next chunk started hand what it returns to the global `print` instead of
    /// returning it, as lua5.4's interactive loop does (the values stay in Lua: `_G` prints
    /// as `table: 0x...`); one chunk only.
    pub fn print_next_results(&mut self) {
        self.print_next = true;
    }

    /// Starts `print` with the values the finished run returned; false when there were none.
    fn start_printing(&mut self) -> bool {
        const RESULTS: &[u8] = b"lua-persist results to print";
        let any = self.lua.results(|ctx, values| {
            if values.is_empty() {
                return false;
            }
            let t = ctx.new_table();
            for (i, &v) in values.iter().enumerate() {
                t.set_int(ctx.mc, i as i64 + 1, v);
            }
            t.set_int(ctx.mc, 0, Value::Integer(values.len() as i64));
            set_field(ctx, ctx.registry(), RESULTS, Value::Table(t));
            true
        });
        if any {
            self.lua.start(|ctx| {
                let key = ctx.intern(RESULTS);
                let Value::Table(t) = ctx.registry().get_str(key) else {
                    bug() // the results were just stored
                };
                ctx.registry().set_str(ctx.mc, key, Value::Nil);
                let n = match t.get_int(0) {
                    Value::Integer(n) => n,
                    _ => 0,
                };
                // A plain loop: collecting from `1..=n` brings in that range's size hint.
                let mut values = Vec::new();
                for i in 1..n + 1 {
                    values.push(t.get_int(i));
                }
                (ctx.globals().get_str(ctx.intern(b"print")), values)
            });
        }
        any
    }

    /// Prepares a call of a function handle (`u32 handle`, `u32 count`, then the encoded
    /// arguments) to run with [`Engine::resume`]; any run in progress is abandoned.
    pub fn start_call(&mut self, input: &[u8]) -> Result<(), Failure> {
        self.running = false;
        self.opening_table = input.starts_with(&handles::TABLE_OPEN.to_le_bytes());
        let store = self.store.clone();
        let mut refused = None;
        self.lua
            .start(|ctx| match handles::decode_call(ctx, &store, input) {
                Ok(call) => call,
                Err(message) => {
                    refused = Some(message);
                    (Value::Nil, Vec::new())
                }
            });
        if let Some(message) = refused {
            return Err(Failure::bad_input(message));
        }
        self.running = true;
        self.fuel_used = 0;
        Ok(())
    }

    /// Makes functions in results handles (`09 u32`) instead of opaque values.
    pub fn set_function_handles(&mut self, on: bool) {
        self.function_handles = on;
    }

    /// Lets the collector take the function behind `handle`; false if it names none.
    pub fn release_handle(&mut self, handle: u32) -> bool {
        self.lua.enter(|ctx| handles::release(ctx, handle))
    }

    /// Forgets upvalue cell `id`: no stored function refers to it any more.
    pub fn release_cell(&mut self, id: u32) {
        let store = self.store.clone();
        self.lua.enter(|ctx| store.release_cell(ctx, id));
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// Runs the current chunk for at most about `max_fuel` instructions.
    pub fn resume(&mut self, max_fuel: u64) -> Step {
        let step = self.resume_inner(max_fuel);
        self.store.flush_output();
        step
    }

    fn resume_inner(&mut self, max_fuel: u64) -> Step {
        if !self.running {
            return Step::Finished(Err(Failure::bad_input("no chunk is running")));
        }
        let mut spent_here = 0u64;
        loop {
            let budget_left = match self.limits.instructions {
                0 => u64::MAX,
                n => n.saturating_sub(self.fuel_used),
            };
            if budget_left == 0 {
                self.running = false;
                return Step::Finished(Err(Failure::new(
                    ErrorKind::InstructionLimit,
                    format!(
                        "instruction limit exceeded ({} instructions)",
                        decimal(self.limits.instructions)
                    ),
                )));
            }
            let slice = SLICE
                .min(budget_left)
                .min(max_fuel.saturating_sub(spent_here).max(1));
            let step = self.lua.step(slice as i64);
            self.peak_heap = self.peak_heap.max(self.lua.memory_used());
            match step {
                vm::Step::Pending => {
                    let next = &mut self.next_handle;
                    let on = self.function_handles;
                    let waiting = self.lua.host_args(|ctx, values| {
                        let mut register = |f| handles::register(ctx, next, f);
                        encode_results(values, on.then_some(&mut register), false)
                    });
                    // A wait ends the step early: only the fuel used counts.
                    let spent = match &waiting {
                        Some((_, left)) => slice.saturating_sub((*left).max(0) as u64),
                        None => slice,
                    };
                    self.fuel_used += spent;
                    spent_here += spent;
                    match waiting {
                        Some((Ok(call), _)) => return Step::Waiting(call),
                        // Arguments the host cannot take fail the call, in Lua.
                        Some((Err(failure), _)) => {
                            let message = failure.message.into_bytes();
                            self.lua.host_return(|ctx| Err(ctx.str_value(&message)));
                        }
                        None => {}
                    }
                    if spent_here >= max_fuel {
                        return Step::Pending;
                    }
                }
                vm::Step::Done => {
                    if std::mem::take(&mut self.print_results) && self.start_printing() {
                        self.printing = true;
                        continue;
                    }
                    self.running = false;
                    let next = &mut self.next_handle;
                    let on = self.function_handles;
                    let open = self.opening_table;
                    return Step::Finished(self.lua.results(|ctx, values| {
                        let mut register = |f| handles::register(ctx, next, f);
                        encode_results(values, on.then_some(&mut register), open)
                    }));
                }
                vm::Step::Error(e) if self.printing => {
                    self.running = false;
                    let message = format!("error calling 'print' ({})", e.message);
                    return Step::Finished(Err(Failure::new(ErrorKind::Runtime, message)));
                }
                vm::Step::Error(e) => {
                    self.running = false;
                    let mut failure = failure_of(e);
                    if failure.kind == ErrorKind::MemoryLimit {
                        // What the run left behind goes before the next one starts; what
                        // stays is the script's own live data (globals, `_home`'s cache).
                        self.lua.collect_all();
                        failure.message = format!(
                            "not enough memory ({} live after a full collection; limit {})",
                            mebibytes(self.lua.memory_used()),
                            mebibytes(self.limits.heap_bytes)
                        );
                    }
                    return Step::Finished(Err(failure));
                }
                vm::Step::Exit(exit) => {
                    self.running = false;
                    // As an i64, the integer type the module formats elsewhere.
                    return Step::Finished(Err(Failure::new(
                        ErrorKind::Exit,
                        i64::from(exit.code).to_string(),
                    )));
                }
            }
        }
    }

    /// Lets `load` accept binary chunks (`string.dump` output). Off by default: bytecode is
    /// verified, but a sandbox need not accept it at all.
    pub fn set_binary_chunks(&mut self, allowed: bool) {
        self.binary_chunks = allowed;
        self.lua.set_config(config(self.limits, allowed));
    }

    /// Runs a full collection cycle.
    pub fn collect_garbage(&mut self) {
        self.lua.collect_all();
    }

    /// Bytes held by the Lua heap.
    pub fn heap_bytes(&self) -> usize {
        self.lua.memory_used()
    }

    /// The largest Lua heap seen between steps since the engine was made.
    pub fn peak_heap_bytes(&self) -> usize {
        self.peak_heap
    }

    pub fn memory_table_id(&self) -> u32 {
        self.store.memory_table_id.get()
    }

    pub fn next_table_id(&self) -> u32 {
        self.store.next_id.get()
    }

    /// Raises the id counter to `next` (it never goes down, so live ids are never reused).
    pub fn sync_table_counter(&mut self, next: u32) {
        let current = self.store.next_id.get();
        self.store
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
        if id >= self.store.next_id.get() {
            self.sync_table_counter(id.saturating_add(1));
        }
        self.store.memory_table_id.set(id);
        self.point_home_at(id);
        Ok(())
    }

    /// Allocates a table id for the host.
    pub fn table_new(&mut self) -> Result<u32, Failure> {
        Ok(self.store.allocate_id()?)
    }

    fn check_id(&self, id: u32) -> Result<(), Failure> {
        if self.store.is_known_id(id) {
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
            Ok(
                codec::Item::InlineTable(_)
                | codec::Item::Opaque(_)
                | codec::Item::Handle(_)
                | codec::Item::HostObject(_),
            ) => {
                return Err(Failure::bad_input(
                    "inline tables and opaque values cannot be stored",
                ))
            }
            _ => {}
        }
        if let Ok(codec::Item::TableRef(r)) = codec::Reader::new(key).item() {
            self.check_id(r)?;
        }
        self.store.touched(id);
        Ok(self.store.host.table_set(id, key, value)?)
    }

    /// The encoded value under `key`, or `None`.
    pub fn table_get(&mut self, id: u32, key: &[u8]) -> Result<Option<Vec<u8>>, Failure> {
        self.check_id(id)?;
        self.check_key(key)?;
        let mut out = Vec::new();
        if self.store.host.table_get(id, key, &mut out)? {
            codec::validate_value(&out).map_err(|e| Failure::bad_input(e.to_string()))?;
            Ok(Some(out))
        } else {
            Ok(None)
        }
    }

    pub fn table_delete(&mut self, id: u32, key: &[u8]) -> Result<(), Failure> {
        self.check_id(id)?;
        self.check_key(key)?;
        self.store.touched(id);
        Ok(self.store.host.table_delete(id, key)?)
    }

    pub fn table_size(&mut self, id: u32) -> Result<u32, Failure> {
        self.check_id(id)?;
        Ok(self.store.host.table_size(id)?)
    }

    /// `u32 count` then every key, validated.
    pub fn table_keys(&mut self, id: u32) -> Result<Vec<u8>, Failure> {
        self.check_id(id)?;
        let mut out = Vec::new();
        self.store.host.table_keys(id, &mut out)?;
        let mut reader = codec::Reader::new(&out);
        let count = reader
            .u32()
            .map_err(|e| Failure::bad_input(e.to_string()))?;
        for _ in 0..count {
            let start = reader.position();
            reader
                .skip_value(0)
                .map_err(|e| Failure::bad_input(e.to_string()))?;
            self.check_key(at(&out, start..reader.position()))?;
        }
        if !reader.is_empty() {
            return Err(Failure::bad_input("key list has trailing bytes"));
        }
        Ok(out)
    }
}

fn config(limits: Limits, binary_chunks: bool) -> Config {
    Config {
        memory_limit: Some(limits.heap_bytes),
        binary_chunks,
        ..Config::default()
    }
}

/// `12.3 MiB`.
fn mebibytes(bytes: usize) -> String {
    let tenths = (bytes as u64 * 10 / (1024 * 1024)) as usize;
    format!("{}.{} MiB", tenths / 10, tenths % 10)
}

/// `n` in decimal through `i64`'s formatting: the module has no other use for `u64`'s.
fn decimal(n: u64) -> String {
    match i64::try_from(n) {
        Ok(n) => format!("{n}"),
        Err(_) => format!("{}{}", (n / 10) as i64, (n % 10) as i64),
    }
}

/// The kind of a run's error from its message: host faults are kind 5, running out of
/// memory kind 4, the rest kind 2.
fn failure_of(e: vm::RuntimeError) -> Failure {
    let (message, traceback) = (e.message, e.traceback);
    // A window scan, not `str::contains`: that alone would bring in the two-way searcher.
    let prefix = HOST_ERROR_PREFIX.as_bytes();
    let from_host = message
        .as_bytes()
        .windows(prefix.len())
        .any(|w| w == prefix);
    let kind = if from_host {
        ErrorKind::BadInput
    } else if message == "not enough memory" {
        ErrorKind::MemoryLimit
    } else {
        ErrorKind::Runtime
    };
    Failure {
        kind,
        message,
        traceback,
    }
}

/// Gives a value that reaches the host its handle (`None`: handles exhausted).
type Register<'a, 'gc> = Option<&'a mut dyn FnMut(Value<'gc>) -> Option<u32>>;

/// `u32 count` then each value; plain tables inline (by handle at the top level when
/// `tables_by_handle`), external tables by reference, functions by handle when `register`
/// is given.
fn encode_results<'gc>(
    values: &[Value<'gc>],
    mut register: Register<'_, 'gc>,
    tables_by_handle: bool,
) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    Writer(&mut out).u32(values.len() as u32);
    let mut path = Vec::new();
    for &v in values {
        match (v, register.as_mut()) {
            (Value::Table(t), Some(register)) if tables_by_handle && t.external_id().is_none() => {
                let handle = register(v).ok_or_else(too_many_handles)?;
                Writer(&mut out).handle(handle);
            }
            _ => encode_result(v, &mut out, &mut path, &mut register)?,
        }
    }
    Ok(out)
}

#[cold]
fn too_many_handles() -> Failure {
    Failure::new(ErrorKind::Runtime, "too many handles")
}

fn encode_result<'gc>(
    value: Value<'gc>,
    out: &mut Vec<u8>,
    path: &mut Vec<Table<'gc>>,
    register: &mut Register<'_, 'gc>,
) -> Result<(), Failure> {
    let mut w = Writer(out);
    match value {
        Value::Nil => w.nil(),
        Value::Boolean(b) => w.boolean(b),
        Value::Integer(i) => w.integer(i),
        Value::Float(f) => w.float(f),
        Value::String(s) => w.string(s.as_bytes()),
        Value::Table(t) => {
            if let Some(id) = t.external_id() {
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
            let mut entries = Vec::new();
            let mut key = Value::Nil;
            while let Ok(Some((k, v))) = t.next(key) {
                entries.push((k, v));
                key = k;
            }
            w.inline_table(entries.len() as u32);
            path.push(t);
            for (k, v) in entries {
                encode_result(k, out, path, register)?;
                encode_result(v, out, path, register)?;
            }
            path.pop();
        }
        other => match (handles::host_function_id(other), register.as_mut()) {
            (Some(id), _) => w.host_function(id),
            (None, Some(register)) if matches!(other, Value::Function(_)) => {
                let handle = register(other).ok_or_else(too_many_handles)?;
                w.handle(handle);
            }
            _ => match handles::host_object_id(other) {
                Some(id) => w.host_object(id),
                None => w.opaque(other.type_name().as_bytes()),
            },
        },
    }
    Ok(())
}

fn with_store<'gc, R>(ctx: Ctx<'gc>, f: impl FnOnce(&Store) -> R) -> R {
    // The engine's storage is a Store.
    let store = Store::of(ctx)
        .as_any()
        .downcast_ref::<Store>()
        .unwrap_or_else(|| bug());
    f(store)
}

/// `ext.table([t])`: a new external table, or the plain table `t` made external in place.
fn ext_table<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    match call.arg(0) {
        Value::Nil => {
            let id = with_store(ctx, |s| s.allocate_id())?;
            call.ret1(Value::Table(ctx.external_table(id)))
        }
        Value::Table(t) if t.external_id().is_none() => {
            let running = call.running();
            with_store(ctx, |s| s.adopt(ctx, &running, t))?;
            call.ret1(Value::Table(t))
        }
        _ => Err(Error::bad_arg(0, "plain table or nil expected")),
    }
}

/// `ext.id(t)`: the id of an external table, nil for anything else.
fn ext_id<'gc>(_ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> Result<Action<'gc>, Error<'gc>> {
    match call.arg(0) {
        Value::Table(t) => match t.external_id() {
            Some(id) => call.ret1(Value::from(id as i64)),
            None => call.ret1(Value::Nil),
        },
        _ => call.ret1(Value::Nil),
    }
}

/// `ext.size(t)`: the number of entries, one host call.
fn ext_size<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> Result<Action<'gc>, Error<'gc>> {
    let Value::Table(t) = call.arg(0) else {
        return Err(Error::bad_arg(0, "external table expected"));
    };
    let Some(id) = t.external_id() else {
        return Err(Error::bad_arg(0, "external table expected"));
    };
    let n = with_store(ctx, |s| s.host.table_size(id))?;
    call.ret1(Value::from(n as i64))
}

/// Where the registry keeps the table of names the globals serve: `_home` and `Memory`.
const SERVED_KEY: &[u8] = b"lua-persist served names";

/// `_home` and `Memory` are not fields of the globals but served by their metatable, so
/// that assigning them is refused instead of silently detaching the persistent table
/// (`_home = _home or {}` stays harmless). `__index` is a table, so reading `_home` is the
/// interpreter's own lookup, not a call (every access to the persistent table starts with
/// one); `__newindex` is a native, not a Lua function: a line hook must not see it run.
/// `__metatable` is false, not a name: `getmetatable(_G) or {}` (strict-mode code) gets a
/// table of its own, and `setmetatable(_G, ...)` is refused all the same.
fn protect_globals(ctx: Ctx<'_>) {
    let served = ctx.new_table();
    set_field(ctx, ctx.registry(), SERVED_KEY, Value::Table(served));
    let meta = ctx.new_table();
    let new_index = NativeClosure::new(ctx.mc, "__newindex", globals_new_index);
    set_field(ctx, meta, b"__index", Value::Table(served));
    set_field(ctx, meta, b"__newindex", Value::from(new_index));
    set_field(ctx, meta, b"__metatable", Value::Boolean(false));
    ctx.globals().set_metatable(ctx.mc, Some(meta));
}

/// The table of served names; a fresh one (that the globals do not serve) if a script took
/// it out of the registry through `debug.getregistry()`: its `_home` is then gone, no more.
fn served_names<'gc>(ctx: Ctx<'gc>) -> Table<'gc> {
    let key = ctx.intern(SERVED_KEY);
    if let Value::Table(served) = ctx.registry().get_str(key) {
        return served;
    }
    let served = ctx.new_table();
    ctx.registry().set_str(ctx.mc, key, Value::Table(served));
    served
}

/// `_home` or `Memory`, when `key` is one of them.
fn home_name(key: Value<'_>) -> Option<&'static str> {
    match key {
        Value::String(s) if s.as_bytes() == b"_home" => Some("_home"),
        Value::String(s) if s.as_bytes() == b"Memory" => Some("Memory"),
        _ => None,
    }
}

fn globals_new_index<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
) -> Result<Action<'gc>, Error<'gc>> {
    let (globals, key, value) = (call.arg(0), call.arg(1), call.arg(2));
    if let Some(name) = home_name(key) {
        if value.raw_eq(served_names(ctx).get_str(ctx.intern(b"_home"))) {
            return call.ret0();
        }
        return Err(Error::runtime(format!(
            "cannot assign to '{name}': it is the persistent table"
        )));
    }
    let Value::Table(globals) = globals else {
        return Err(Error::bad_arg(0, "table expected"));
    };
    globals
        .set(ctx.mc, key, value)
        .map_err(|e| Error::runtime(e.message()))?;
    call.ret0()
}

/// The `ext` library: `ext.table([t])`, `ext.id(t)`, `ext.size(t)` (alias `ext.table_size`).
fn install_ext_library(ctx: Ctx<'_>) {
    // A library like the others: storing it is refused, as for `string`.
    stdlib::register_lib(
        ctx,
        "ext",
        &[
            ("table", ext_table),
            ("id", ext_id),
            ("size", ext_size),
            ("table_size", ext_size),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimal_writes_every_u64() {
        for n in [0, 9, 10, i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }
}
