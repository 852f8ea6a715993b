//! The Lua state: the arena root (globals, registry, strings, metatables, threads), the
//! context natives work with, and [`Lua`], which owns the arena and drives execution in
//! slices of fuel with garbage collection between them.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, OnceCell, RefCell};

use gc_arena::lock::RefLock;
use gc_arena::{Arena, Collect, CollectionPhase, Gc, Mutation, Rootable};

use crate::checked::{borrow, borrow_mut, cell_mut};
use crate::compiler::{compile, SyntaxError};
use crate::function::{LuaClosure, Proto, Upval};
use crate::gc::{self, GcLists};
use crate::host::{HostError, HostFile, HostResult, OpenMode, ProcessEnd};
use crate::interp::{self, Exit, MetaEvent};
use crate::string::{self, Interner, LuaStr, MAX_SHORT_LEN};
use crate::table::Table;
use crate::thread::{Closing, Frame, Pending, Status, Thread};
use crate::value::{Function, Type, Value};

/// What the VM needs from its embedder: output, time and entropy, and what the `io`, `os`
/// and `package` libraries may use of files, commands and the environment. The VM has no
/// clock, randomness or I/O of its own.
///
/// Everything past the first five methods has a default for a sandbox that offers none of
/// it: no standard input, standard error dropped, and files, commands and temporary names
/// failing with [`HostError::unavailable`], which scripts see as lua5.4 reports a failed
/// call (`nil, "data.txt: not available in this sandbox", 38`).
pub trait Host {
    /// Standard output (`print`, `io.write`).
    fn write(&mut self, bytes: &[u8]);
    /// A warning (`warn`), without the `Lua warning: ` prefix.
    fn warn(&mut self, message: &[u8]);
    /// Processor time used, in seconds (`os.clock`).
    fn clock(&mut self) -> f64;
    /// Seconds since the Unix epoch (`os.time`).
    fn time(&mut self) -> i64;
    /// A fresh random seed (`math.randomseed()` and the initial seed).
    fn random_seed(&mut self) -> u64;

    /// Sends on what standard output holds back (`io.stdout:flush()`, `setvbuf("no")`).
    fn flush(&mut self) {}
    /// Standard error (`io.stderr`). Without one, what is written there is dropped.
    fn write_err(&mut self, bytes: &[u8]) {
        let _ = bytes;
    }
    /// Reads standard input into `buf`: how many bytes came, 0 at its end. Without one, the
    /// input is empty. An `io` read that gets [`HostError::WOULD_BLOCK`] waits for the
    /// embedder, then reads again.
    fn read_stdin(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        let _ = buf;
        Ok(0)
    }
    /// Opens the file at `path` (`io.open`, `io.lines`, `loadfile`, `require`).
    fn open(&mut self, path: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let _ = (path, mode);
        Err(HostError::unavailable())
    }
    /// A temporary file for reading and writing, removed when closed (`io.tmpfile`).
    fn tmpfile(&mut self) -> HostResult<Box<dyn HostFile>> {
        Err(HostError::unavailable())
    }
    /// Starts `command` in a shell with a pipe to read its output ([`OpenMode::Read`]) or
    /// write its input ([`OpenMode::Write`]) (`io.popen`).
    fn popen(&mut self, command: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let _ = (command, mode);
        Err(HostError::unavailable())
    }
    /// Deletes a file or an empty directory (`os.remove`).
    fn remove(&mut self, path: &[u8]) -> HostResult<()> {
        let _ = path;
        Err(HostError::unavailable())
    }
    /// Renames a file (`os.rename`).
    fn rename(&mut self, from: &[u8], to: &[u8]) -> HostResult<()> {
        let _ = (from, to);
        Err(HostError::unavailable())
    }
    /// The name of a new, empty temporary file (`os.tmpname`).
    fn tmpname(&mut self) -> HostResult<Vec<u8>> {
        Err(HostError::unavailable())
    }
    /// Whether [`Host::execute`] has a shell to run commands (`os.execute()`).
    fn shell_available(&mut self) -> bool {
        false
    }
    /// Runs `command` in a shell and waits for it (`os.execute`).
    fn execute(&mut self, command: &[u8]) -> HostResult<ProcessEnd> {
        let _ = command;
        Err(HostError::unavailable())
    }
    /// An environment variable (`os.getenv`, `LUA_PATH` for `package.path`).
    fn getenv(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        let _ = name;
        None
    }
}

/// Most memory the allocator must have free between slices and after each big allocation:
/// more than a slice allocates in objects too small to ask about (see [`platform_has`]).
pub const HEADROOM: usize = 4 << 20;

/// The free memory asked for between slices: half the heap, from 1 MiB up to [`HEADROOM`].
/// A small heap allocates little per slice, and a fixed 4 MiB would be most of its
/// footprint (a million `_home` entries fit in 64 pages).
fn headroom(used: usize) -> usize {
    (used / 2).clamp(1 << 20, HEADROOM)
}

/// Whether the allocator can give `bytes` at once and keep [`HEADROOM`]: a wasm module's
/// memory may stop growing below the memory limit (4 GiB, or the browser's limit), and an
/// allocation it cannot make would abort. Asked for allocations of [`HEADROOM`]` / 8` and
/// more.
pub(crate) fn platform_has(bytes: usize) -> bool {
    bytes < HEADROOM / 8 || can_allocate(bytes.saturating_add(HEADROOM))
}

/// After an allocation of `bytes` has been made: whether [`HEADROOM`] is still free (asked for
/// allocations of [`HEADROOM`]` / 8` and more, as [`platform_has`]).
pub(crate) fn platform_keeps_headroom(bytes: usize) -> bool {
    bytes < HEADROOM / 8 || can_allocate(HEADROOM)
}

/// Allocates `bytes` and frees them: the allocator keeps what it grew for them (dlmalloc
/// never gives memory back), ready for the allocations that asked.
fn can_allocate(bytes: usize) -> bool {
    Vec::<u8>::new().try_reserve_exact(bytes).is_ok()
}

/// Limits of a state.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Most stack slots a thread may use: deeper recursion is "stack overflow".
    pub max_stack: usize,
    /// Longest string a script may build.
    pub max_string: usize,
    /// Most bytes the arena may hold (objects and their buffers): allocating past it is
    /// Lua's "not enough memory" error. `None`: no limit.
    pub memory_limit: Option<usize>,
    /// Whether `load` accepts binary chunks (they are verified either way); an embedder
    /// running untrusted scripts may refuse them.
    pub binary_chunks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_stack: 1_000_000,
            max_string: i32::MAX as usize,
            memory_limit: None,
            binary_chunks: true,
        }
    }
}

/// Threads being run: the main thread first, then each coroutine resumed from the one
/// before it. The last one runs.
#[derive(Collect, Default)]
#[collect(no_drop)]
pub(crate) struct Exec<'gc> {
    chain: Vec<Thread<'gc>>,
}

/// The arena root.
#[derive(Collect)]
#[collect(no_drop)]
pub struct State<'gc> {
    pub globals: Table<'gc>,
    pub registry: Table<'gc>,
    strings: Gc<'gc, RefLock<Interner<'gc>>>,
    meta_names: Box<[LuaStr<'gc>]>,
    type_metas: Gc<'gc, RefLock<[Option<Table<'gc>>; 8]>>,
    main: Thread<'gc>,
    exec: Gc<'gc, RefLock<Exec<'gc>>>,
    gc: Gc<'gc, RefLock<GcLists<'gc>>>,
    #[collect(require_static)]
    host: RefCell<Box<dyn Host>>,
    #[collect(require_static)]
    config: Cell<Config>,
    #[collect(require_static)]
    traceback: RefCell<Option<String>>,
    /// The main call failed with a value that has `__tostring`, which the main thread now
    /// runs to make the message (lua.c's message handler): the report if it gives no string.
    #[collect(require_static)]
    describing_error: RefCell<Option<RuntimeError>>,
    /// A script asked for a full collection (`collectgarbage()`); the driver runs it.
    #[collect(require_static)]
    gc_requested: Cell<bool>,
    /// Bytes allocated (objects and buffers) past which the interpreter stops for the
    /// collector: set after each collection step.
    #[collect(require_static)]
    gc_watermark: Cell<usize>,
    /// The memory limit was passed even after a full collection: the running code gets a
    /// "not enough memory" error before it goes on.
    #[collect(require_static)]
    memory_exceeded: Cell<bool>,
    /// `collectgarbage("stop")`: only explicit collections run.
    #[collect(require_static)]
    gc_stopped: Cell<bool>,
    /// The mode `collectgarbage` reports (our collector is always incremental).
    #[collect(require_static)]
    gc_mode: Cell<&'static str>,
    /// `warn` output is on (`@on`/`@off`).
    #[collect(require_static)]
    warnings_on: Cell<bool>,
    /// A script called `os.exit`: the run ends with this.
    #[collect(require_static)]
    exit: Cell<Option<ExitRequest>>,
    /// A native waits for the embedder ([`Ctx::request_host`]).
    #[collect(require_static)]
    host_wait: Cell<HostWait>,
    /// The protected metatable every external table shares.
    ext_meta: Table<'gc>,
    /// External tables by id, held weakly: one table per id while it is alive.
    ext_tables: Table<'gc>,
    #[collect(require_static)]
    ext_storage: OnceCell<crate::external::Storage>,
    /// Fuel that host work (external tables) cost since the interpreter last looked.
    #[collect(require_static)]
    fuel_debt: Cell<i64>,
}

/// What natives and the interpreter work with: the mutation handle and the state.
#[derive(Clone, Copy)]
pub struct Ctx<'gc> {
    pub mc: &'gc Mutation<'gc>,
    pub state: &'gc State<'gc>,
}

fn type_index(t: Type) -> usize {
    t as usize
}

impl<'gc> Ctx<'gc> {
    /// The string with these bytes.
    pub fn intern(self, bytes: &[u8]) -> LuaStr<'gc> {
        string::intern(self.state.strings, self.mc, bytes)
    }

    /// The concatenation of `parts`, built with one copy.
    pub fn concat(self, parts: &[&[u8]]) -> LuaStr<'gc> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > MAX_SHORT_LEN {
            return string::from_parts(self.mc, parts, len, 0);
        }
        let mut buf = [0; string::BUILD_LEN];
        let mut at = string::BUILD_END - len;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        self.intern_built(&buf, string::BUILD_END - len)
    }

    /// The string of `buf[start..BUILD_END]`, a short string built in place.
    pub(crate) fn intern_built(self, buf: &[u8; string::BUILD_LEN], start: usize) -> LuaStr<'gc> {
        string::intern_built(self.state.strings, self.mc, buf, start)
    }

    pub fn str_value(self, bytes: &[u8]) -> Value<'gc> {
        Value::String(self.intern(bytes))
    }

    pub fn new_table(self) -> Table<'gc> {
        Table::new(self.mc)
    }

    /// Makes `t` weak as `setmetatable(t, {__mode = mode})` would (`mode` "k", "v" or "kv").
    pub fn make_weak(self, t: Table<'gc>, mode: &[u8]) {
        let meta = Table::new(self.mc);
        meta.set_str(
            self.mc,
            self.meta_name(MetaEvent::Mode),
            self.str_value(mode),
        );
        t.set_metatable(self.mc, Some(meta));
        gc::note_metatable(self, Value::Table(t), Some(meta));
    }

    pub fn globals(self) -> Table<'gc> {
        self.state.globals
    }

    /// The embedder's storage for external tables, if it gave one ([`Lua::set_external`]).
    pub fn external_storage(self) -> Option<&'gc dyn crate::external::External> {
        self.state.ext_storage.get().map(|s| &**s)
    }

    /// The external table `id`: the same table for as long as it lives.
    pub fn external_table(self, id: u32) -> Table<'gc> {
        let key = Value::Integer(id as i64);
        if let Value::Table(t) = self.state.ext_tables.get(key) {
            return t;
        }
        let t = Table::new(self.mc);
        t.state_mut(self.mc).make_external(id, self.state.ext_meta);
        self.state
            .ext_tables
            .set_int(self.mc, id as i64, Value::Table(t));
        t
    }

    /// Turns the plain table `t` into external table `id` in place (its entries must have
    /// been stored by the embedder first): every reference to `t` now sees the external
    /// table. Refused (`false`) when `t` has a metatable, or `id` already has a live table.
    pub fn make_external(self, t: Table<'gc>, id: u32) -> bool {
        if t.metatable().is_some() || !self.state.ext_tables.get_int(id as i64).is_nil() {
            return false;
        }
        t.state_mut(self.mc).make_external(id, self.state.ext_meta);
        self.state
            .ext_tables
            .set_int(self.mc, id as i64, Value::Table(t));
        true
    }

    /// Charges `n` instructions of fuel for host work, taken before the interpreter's next
    /// step, so external-table calls count against a run's budget.
    pub fn charge_fuel(self, n: i64) {
        let debt = &self.state.fuel_debt;
        debt.set(debt.get().saturating_add(n.max(0)));
    }

    #[inline]
    pub(crate) fn take_fuel_debt(self) -> i64 {
        self.state.fuel_debt.replace(0)
    }

    pub fn registry(self) -> Table<'gc> {
        self.state.registry
    }

    #[inline]
    pub(crate) fn meta_name(self, event: MetaEvent) -> LuaStr<'gc> {
        self.state.meta_names[event as usize]
    }

    /// The metatable shared by all values of a type (strings, and what
    /// `debug.setmetatable` sets for the others).
    #[inline]
    pub fn type_metatable(self, t: Type) -> Option<Table<'gc>> {
        borrow(self.state.type_metas)[type_index(t)]
    }

    pub fn set_type_metatable(self, t: Type, mt: Option<Table<'gc>>) {
        borrow_mut(self.state.type_metas, self.mc)[type_index(t)] = mt;
    }

    /// `v`'s metatable field `name`, if `v` has a metatable.
    pub fn metafield(self, v: Value<'gc>, name: &str) -> Option<Value<'gc>> {
        let mt = interp::metatable_of(self, v)?;
        let f = mt.get_str(self.intern(name.as_bytes()));
        (!f.is_nil()).then_some(f)
    }

    pub fn main_thread(self) -> Thread<'gc> {
        self.state.main
    }

    pub(crate) fn set_traceback(self, tb: String) {
        *cell_mut(&self.state.traceback) = Some(tb);
    }

    /// `package.loaded`, where tracebacks look for function names.
    pub fn loaded_table(self) -> Value<'gc> {
        self.state.registry.get_str(self.intern(b"_LOADED"))
    }

    pub fn config(self) -> Config {
        self.state.config.get()
    }

    #[inline]
    pub fn max_stack(self) -> usize {
        self.state.config.get().max_stack
    }

    /// Room for `bytes` more under the memory limit and on the platform, or Lua's memory
    /// error.
    pub fn check_alloc(self, bytes: usize) -> Result<(), crate::interp::Error<'gc>> {
        if bytes > self.alloc_room() || !platform_has(bytes) {
            return Err(self.memory_error());
        }
        Ok(())
    }

    /// Bytes that may still be allocated under the memory limit.
    pub fn alloc_room(self) -> usize {
        match self.config().memory_limit {
            Some(limit) => limit.saturating_sub(self.memory_used()),
            None => usize::MAX,
        }
    }

    /// Lua's "not enough memory" error (a plain message, no position, as lua5.4's).
    #[cold]
    pub fn memory_error(self) -> crate::interp::Error<'gc> {
        crate::interp::Error::Value(self.str_value(b"not enough memory"))
    }

    pub fn max_string_len(self) -> usize {
        self.state.config.get().max_string
    }

    /// Calls `f` with the host.
    pub fn with_host<R>(self, f: impl FnOnce(&mut dyn Host) -> R) -> R {
        f(&mut **cell_mut(&self.state.host))
    }

    /// A number as `tostring` shows it.
    pub fn number_to_string(self, v: Value<'gc>) -> LuaStr<'gc> {
        match v {
            // The common case without a buffer on the heap.
            Value::Integer(i) => self.intern(crate::number::int_digits(i, &mut [0; 20])),
            _ => self.intern(&interp::tostring_plain(self, v)),
        }
    }

    pub(crate) fn gc_lists(self) -> Gc<'gc, RefLock<GcLists<'gc>>> {
        self.state.gc
    }

    /// Asks the driver for a full collection before the script goes on.
    pub fn request_full_gc(self) {
        self.state.gc_requested.set(true);
    }

    /// Records the mode `collectgarbage` was given and returns the previous one.
    pub fn set_gc_mode(self, mode: &'static str) -> &'static str {
        self.state.gc_mode.replace(mode)
    }

    pub(crate) fn gc_watermark(self) -> usize {
        self.state.gc_watermark.get()
    }

    pub fn gc_stopped(self) -> bool {
        self.state.gc_stopped.get()
    }

    pub fn set_gc_stopped(self, stopped: bool) {
        self.state.gc_stopped.set(stopped);
    }

    pub(crate) fn gc_requested(self) -> bool {
        self.state.gc_requested.get()
    }

    /// `warn`: control messages (`@on`, `@off`) when `single`, otherwise output if on.
    pub fn warn(self, msg: &[u8], single: bool) {
        if single && msg.first() == Some(&b'@') {
            match msg {
                b"@on" => self.state.warnings_on.set(true),
                b"@off" => self.state.warnings_on.set(false),
                _ => {}
            }
            return;
        }
        if self.state.warnings_on.get() {
            self.with_host(|h| h.warn(msg));
        }
    }

    /// Ends the run as soon as the native asking for it returns [`Action::Yield`]
    /// (`os.exit`): the yield reaches the driver whatever thread makes it, and the run
    /// ends with [`Step::Exit`].
    ///
    /// [`Action::Yield`]: crate::interp::Action::Yield
    pub fn request_exit(self, exit: ExitRequest) {
        self.state.exit.set(Some(exit));
    }

    /// Suspends the run as soon as the native asking for it returns [`Action::Yield`]: the
    /// yielded values go to the embedder ([`Lua::host_args`]), whose answer
    /// ([`Lua::host_return`]) becomes the native's results or error. Meanwhile
    /// [`Lua::step`] returns [`Step::Pending`] without running anything.
    ///
    /// [`Action::Yield`]: crate::interp::Action::Yield
    pub fn request_host(self) {
        self.state.host_wait.set(HostWait::Requested);
    }

    /// Bytes allocated in the arena (objects and their buffers).
    pub fn memory_used(self) -> usize {
        self.mc.metrics().total_allocation()
    }

    /// Compiles and loads a chunk as a function whose `_ENV` is `env` (the globals when
    /// `None`).
    pub fn load(
        self,
        source: &[u8],
        chunk_name: &[u8],
        env: Option<Value<'gc>>,
    ) -> Result<LuaClosure<'gc>, SyntaxError> {
        let plain = compile(source, chunk_name)?;
        Ok(self.load_proto(plain, env))
    }

    /// Loads a compiled main function; its first upvalue (if any) is `env`.
    pub fn load_proto(
        self,
        plain: crate::proto::FunctionProto,
        env: Option<Value<'gc>>,
    ) -> LuaClosure<'gc> {
        let proto = Proto::load(self, plain);
        let env = env.unwrap_or(Value::Table(self.state.globals));
        let upvals: Vec<Upval<'gc>> = (0..proto.plain.upvalues.len())
            .map(|i| Upval::new_closed(self.mc, if i == 0 { env } else { Value::Nil }))
            .collect();
        LuaClosure::new(self.mc, proto, upvals.into_boxed_slice())
    }
}

/// How a slice of execution ended.
#[derive(Debug)]
pub enum Step {
    /// The call returned; its results are available through [`Lua::results`].
    Done,
    /// Fuel ran out: step again to continue.
    Pending,
    /// An error nothing caught.
    Error(RuntimeError),
    /// The script called `os.exit`: the embedder decides what ending means (the native
    /// runner closes the state if asked, then exits the process).
    Exit(ExitRequest),
}

/// Whether a native waits for the embedder, and where its values start on the stack of the
/// running thread.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HostWait {
    No,
    Requested,
    /// `fuel_left`: what the step had left when the run began to wait.
    Waiting {
        from: usize,
        fuel_left: i64,
    },
}

/// What `os.exit` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitRequest {
    /// The exit status (`true` is 0, `false` is 1).
    pub code: i32,
    /// Close the state first ([`Lua::close`]), as `os.exit(code, true)` asks.
    pub close: bool,
}

/// An error that ended a run, converted out of the arena.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError {
    /// The error value as `lua.c` shows it (`(error object is a table value)` for a
    /// non-string without `__tostring`).
    pub message: String,
    /// `stack traceback:` and its lines, taken where the error was raised.
    pub traceback: String,
}

/// A Lua state that owns its garbage-collected arena.
pub struct Lua {
    arena: Arena<Rootable![State<'_>]>,
}

impl Lua {
    /// A state with no libraries yet: its embedder opens them (`lua-persist-stdlib`'s
    /// `open`, through [`Lua::enter`]).
    pub fn new(host: Box<dyn Host>) -> Lua {
        Self::with_config(host, Config::default())
    }

    /// [`Lua::new`] with limits.
    pub fn with_config(host: Box<dyn Host>, config: Config) -> Lua {
        let arena = Arena::<Rootable![State<'_>]>::new(|mc| {
            let strings = Gc::new(mc, RefLock::new(Interner::new(mc)));
            let meta_names = MetaEvent::NAMES
                .iter()
                .map(|n| string::intern(strings, mc, n.as_bytes()))
                .collect::<Vec<_>>()
                .into_boxed_slice();
            State {
                globals: Table::new(mc),
                registry: Table::new(mc),
                strings,
                meta_names,
                type_metas: Gc::new(mc, RefLock::new([None; 8])),
                main: Thread::new(mc),
                exec: Gc::new(mc, RefLock::new(Exec::default())),
                gc: Gc::new(mc, RefLock::new(GcLists::default())),
                host: RefCell::new(host),
                config: Cell::new(config),
                traceback: RefCell::new(None),
                describing_error: RefCell::new(None),
                gc_requested: Cell::new(false),
                gc_mode: Cell::new("generational"),
                gc_stopped: Cell::new(false),
                memory_exceeded: Cell::new(false),
                gc_watermark: Cell::new(usize::MAX),
                warnings_on: Cell::new(false),
                exit: Cell::new(None),
                host_wait: Cell::new(HostWait::No),
                ext_meta: Table::new(mc),
                ext_tables: Table::new(mc),
                ext_storage: OnceCell::new(),
                fuel_debt: Cell::new(0),
            }
        });
        let lua = Lua { arena };
        lua.enter(init_external);
        lua
    }

    /// Changes the limits; they apply from the next step.
    pub fn set_config(&mut self, config: Config) {
        self.arena.mutate(|_, state| state.config.set(config));
    }

    /// Gives the state its storage for external tables ([`Ctx::external_table`]), once: every
    /// external access then reaches it without touching a reference count.
    pub fn set_external(&mut self, storage: crate::external::Storage) {
        self.arena.mutate(|_, state| {
            assert!(
                state.ext_storage.set(storage).is_ok(),
                "a state's external storage is given once"
            )
        });
    }

    /// Runs `f` inside the arena.
    pub fn enter<F, R>(&self, f: F) -> R
    where
        F: for<'gc> FnOnce(Ctx<'gc>) -> R,
    {
        self.arena.mutate(|mc, state| f(Ctx { mc, state }))
    }

    /// Prepares the main thread to call the function `f` returns, with the arguments it
    /// returns. Run it with [`Lua::step`].
    pub fn start<F>(&mut self, f: F)
    where
        F: for<'gc> FnOnce(Ctx<'gc>) -> (Value<'gc>, Vec<Value<'gc>>),
    {
        self.arena.mutate(|mc, state| {
            let ctx = Ctx { mc, state };
            let (func, args) = f(ctx);
            // Memory found short after the last run ended is looked at again after a slice.
            state.memory_exceeded.set(false);
            call_on_main(ctx, func, &args);
            state.host_wait.set(HostWait::No);
            *cell_mut(&state.traceback) = None;
            *cell_mut(&state.describing_error) = None;
        });
    }

    /// Compiles `source` and prepares the main thread to run it with `args` as `...`.
    pub fn start_chunk(
        &mut self,
        source: &[u8],
        chunk_name: &[u8],
        args: &[&[u8]],
    ) -> Result<(), SyntaxError> {
        let plain = compile(source, chunk_name)?;
        self.start(|ctx| {
            let f = ctx.load_proto(plain, None);
            let args = args.iter().map(|a| ctx.str_value(a)).collect();
            (Value::from(f), args)
        });
        Ok(())
    }

    /// Runs up to about `fuel` instructions, then collects garbage as the allocations made
    /// require.
    pub fn step(&mut self, fuel: i64) -> Step {
        let mut fuel = fuel;
        loop {
            let slice = self
                .arena
                .mutate(|mc, state| run_slice(Ctx { mc, state }, &mut fuel));
            if self
                .arena
                .mutate(|_, state| state.gc_requested.replace(false))
            {
                self.collect_all();
            } else if !self.arena.mutate(|_, state| state.gc_stopped.get()) {
                self.collect_debt();
            }
            self.enforce_memory_limit();
            self.set_gc_watermark();
            match slice {
                // It stopped for the collector: go on with the fuel left.
                Slice::Collect if fuel > 0 => continue,
                Slice::Collect | Slice::Ended(Step::Pending) => {
                    // Host work can overspend a slice: the next slices pay it back, so that
                    // a budget made of slices holds.
                    if fuel < 0 {
                        self.arena.mutate(|mc, state| {
                            Ctx { mc, state }.charge_fuel(-fuel);
                        });
                    }
                    return Step::Pending;
                }
                Slice::Ended(step) => return step,
            }
        }
    }

    /// Past the memory limit, or without [`headroom`] on the platform, a full collection;
    /// still so, the running code gets "not enough memory" (lua5.4 collects in an
    /// emergency, then fails the same way).
    fn enforce_memory_limit(&mut self) {
        let exceeded = |lua: &mut Lua| {
            lua.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                let limit = ctx.config().memory_limit.unwrap_or(usize::MAX);
                let used = ctx.memory_used();
                used > limit || !can_allocate(headroom(used))
            })
        };
        if exceeded(self) {
            self.collect_all();
            if exceeded(self) {
                self.arena
                    .mutate(|_, state| state.memory_exceeded.set(true));
            }
        }
    }

    /// The next point at which the interpreter pauses for the collector: after allocating
    /// an eighth of what is in use (at least 256 KiB), or at the memory limit, whichever
    /// comes first; never while collection is stopped (but for the limit).
    fn set_gc_watermark(&mut self) {
        let used = self.memory_used();
        self.arena.mutate(|_, state| {
            // Never more than a quarter of the headroom between two looks at it.
            let pace = if state.gc_stopped.get() {
                used + headroom(used) / 4
            } else {
                used + (used / 8).clamp(256 * 1024, headroom(used) / 4)
            };
            // Already past the limit (the script caught the error and keeps its data):
            // look again after a little more, not at every instruction.
            let limit = match state.config.get().memory_limit {
                Some(limit) if used >= limit => used + 64 * 1024,
                Some(limit) => limit,
                None => usize::MAX,
            };
            state.gc_watermark.set(pace.min(limit));
        });
    }

    /// Runs to the end.
    pub fn run(&mut self) -> Step {
        loop {
            match self.step(100_000) {
                Step::Pending => continue,
                other => return other,
            }
        }
    }

    /// While a native waits for the embedder ([`Ctx::request_host`]): `f` of the values it
    /// handed over, and the fuel the last step had left. `None` when nothing waits.
    pub fn host_args<F, R>(&self, f: F) -> Option<(R, i64)>
    where
        F: for<'gc> FnOnce(Ctx<'gc>, &[Value<'gc>]) -> R,
    {
        self.arena.mutate(|mc, state| {
            let HostWait::Waiting { from, fuel_left } = state.host_wait.get() else {
                return None;
            };
            let thread = *borrow(state.exec).chain.last()?;
            let ts = borrow(thread.0);
            Some((f(Ctx { mc, state }, &ts.stack[from..]), fuel_left))
        })
    }

    /// Ends the wait: the values `f` returns become the native's results, or the error it
    /// returns is raised there. Returns false when nothing waits.
    pub fn host_return<F>(&mut self, f: F) -> bool
    where
        F: for<'gc> FnOnce(Ctx<'gc>) -> Result<Vec<Value<'gc>>, Value<'gc>>,
    {
        self.arena.mutate(|mc, state| {
            let HostWait::Waiting { from, .. } = state.host_wait.get() else {
                return false;
            };
            let Some(&thread) = borrow(state.exec).chain.last() else {
                return false;
            };
            state.host_wait.set(HostWait::No);
            let answer = f(Ctx { mc, state });
            let mut ts = borrow_mut(thread.0, mc);
            ts.stack.truncate(from);
            ts.pending = match answer {
                Ok(values) => {
                    ts.stack.extend_from_slice(&values);
                    Pending::Returned { at: from }
                }
                Err(e) => Pending::Raised(e),
            };
            true
        })
    }

    /// Reads the results of the finished call.
    pub fn results<F, R>(&self, f: F) -> R
    where
        F: for<'gc> FnOnce(Ctx<'gc>, &[Value<'gc>]) -> R,
    {
        self.arena.mutate(|mc, state| {
            let ts = borrow(state.main.0);
            f(Ctx { mc, state }, &ts.stack)
        })
    }

    /// Bytes allocated in the arena.
    pub fn memory_used(&self) -> usize {
        self.arena.metrics().total_allocation()
    }

    /// Runs the collector as far as the allocation debt requires.
    pub fn collect_debt(&mut self) {
        if self.arena.metrics().allocation_debt() <= 0.0 {
            return;
        }
        if self.arena.collection_phase() == CollectionPhase::Sleeping && self.needs_finalization() {
            // Weak entries leave the traced graph for a cycle marked all at once.
            self.enter(gc::detach_weak_entries);
            self.finish_marking();
        } else if self.arena.mark_debt().is_some() {
            self.finish_marking();
        }
        self.arena.collect_debt();
    }

    /// A full collection cycle (after finishing the one in progress).
    pub fn collect_all(&mut self) {
        if self.arena.collection_phase() != CollectionPhase::Sleeping {
            self.finish_marking();
            self.arena.collect_all();
        }
        if self.needs_finalization() {
            self.enter(gc::detach_weak_entries);
        }
        self.finish_marking();
        self.arena.collect_all();
    }

    fn needs_finalization(&self) -> bool {
        self.arena
            .mutate(|_, state| borrow(state.gc).needs_finalization())
    }

    /// Completes marking and runs the finalization passes: ephemerons until nothing
    /// changes, dead weak values, finalizers, then weak entries back and dead strings out.
    fn finish_marking(&mut self) {
        loop {
            let Some(marked) = self.arena.mark_all() else {
                return;
            };
            let revived =
                marked.finalize(|fc, state| gc::revive_ephemeron_values(fc, &borrow(state.gc)));
            if !revived {
                break;
            }
        }
        if let Some(marked) = self.arena.mark_all() {
            marked.finalize(|fc, state| gc::queue_finalizers(fc, &mut borrow_mut(state.gc, fc)));
        }
        if let Some(marked) = self.arena.mark_all() {
            marked.finalize(|fc, state| {
                gc::restore_weak_entries(fc, &mut borrow_mut(state.gc, fc));
                borrow_mut(state.strings, fc).purge_dead(fc);
            });
        }
    }

    /// Closes the state as `lua_close` does: every object with a finalizer, dead or
    /// alive, has it called (errors become warnings).
    pub fn close(&mut self) {
        self.close_pending_variables();
        self.collect_all();
        self.arena
            .mutate(|mc, state| borrow_mut(state.gc, mc).queue_all_finalizers(mc));
        loop {
            let more = self.arena.mutate(|mc, state| {
                let ctx = Ctx { mc, state };
                let Some(obj) = borrow_mut(state.gc, mc).pending.pop() else {
                    return false;
                };
                let f = interp::metamethod(ctx, obj, MetaEvent::Gc);
                let mut ts = borrow_mut(state.main.0, mc);
                ts.stack.clear();
                ts.frames.clear();
                ts.stack.push(f);
                ts.stack.push(obj);
                ts.status = Status::Running;
                let mut exec = borrow_mut(state.exec, mc);
                exec.chain.clear();
                exec.chain.push(state.main);
                true
            });
            if !more {
                break;
            }
            if let Step::Error(e) = self.run() {
                let msg = alloc::format!("error in __gc ({})", e.message);
                self.enter(|ctx| ctx.warn(msg.as_bytes(), false));
            }
        }
    }

    /// Closes the to-be-closed variables a run left open when `os.exit(code, true)` ended
    /// it, innermost first and with no error, as `lua_close` does; their errors are lost.
    fn close_pending_variables(&mut self) {
        let pending = self.arena.mutate(|mc, state| {
            let mut ts = borrow_mut(state.main.0, mc);
            if ts.tbc.is_empty() {
                return false;
            }
            ts.closing = Closing::Requested;
            ts.error = Value::Nil;
            ts.status = Status::Running;
            let mut exec = borrow_mut(state.exec, mc);
            exec.chain.clear();
            exec.chain.push(state.main);
            true
        });
        if pending {
            let _ = self.run();
            self.arena
                .mutate(|mc, state| borrow_mut(state.main.0, mc).closing = Closing::No);
        }
    }
}

/// The shared metatable of external tables and the weak map of them by id.
fn init_external(ctx: Ctx<'_>) {
    let meta = ctx.state.ext_meta;
    let protected = ctx.str_value(crate::external::PROTECTED_NAME.as_bytes());
    meta.set_str(ctx.mc, ctx.intern(b"__metatable"), protected);
    // Markers: any non-nil, non-table value sends the fast paths to the slow ones.
    meta.set_str(
        ctx.mc,
        ctx.meta_name(MetaEvent::Index),
        Value::Boolean(true),
    );
    meta.set_str(
        ctx.mc,
        ctx.meta_name(MetaEvent::NewIndex),
        Value::Boolean(true),
    );
    ctx.make_weak(ctx.state.ext_tables, b"v");
}

/// How a slice of execution ended.
enum Slice {
    Ended(Step),
    /// It stopped for the collector (with fuel left, maybe).
    Collect,
}

/// Runs the thread chain until the main call ends, an error escapes it, fuel runs out or the
/// collector is due.
fn run_slice<'gc>(ctx: Ctx<'gc>, fuel: &mut i64) -> Slice {
    loop {
        if let HostWait::Waiting { .. } = ctx.state.host_wait.get() {
            return Slice::Ended(Step::Pending);
        }
        let Some(&thread) = borrow(ctx.state.exec).chain.last() else {
            return Slice::Ended(Step::Done);
        };
        let exit = {
            let mut ts = borrow_mut(thread.0, ctx.mc);
            ts.status = Status::Running;
            if ctx.state.memory_exceeded.replace(false) {
                let error = ctx.str_value(b"not enough memory");
                interp::raise_in(ctx, thread, &mut ts, error)
            } else {
                run_pending_finalizer(ctx, thread, &mut ts);
                None
            }
            .unwrap_or_else(|| interp::run(ctx, thread, &mut ts, fuel))
        };
        match exit {
            Exit::Fuel => return Slice::Ended(Step::Pending),
            Exit::Collect => return Slice::Collect,
            Exit::Finished => {
                if thread == ctx.state.main {
                    borrow_mut(ctx.state.exec, ctx.mc).chain.clear();
                    borrow_mut(thread.0, ctx.mc).status = Status::Dead;
                    let described = cell_mut(&ctx.state.describing_error).take();
                    return Slice::Ended(match described {
                        Some(error) => Step::Error(described_error(ctx, error)),
                        None => Step::Done,
                    });
                }
                let closed = {
                    let mut ts = borrow_mut(thread.0, ctx.mc);
                    let was = ts.closing;
                    ts.closing = Closing::No;
                    (was != Closing::No).then(|| core::mem::take(&mut ts.error))
                };
                let values = take_stack(ctx, thread, 0, Status::Dead);
                match closed {
                    Some(Value::Nil) | None => deliver(ctx, Delivery::Values(values)),
                    Some(e) => deliver(ctx, Delivery::Error(e)),
                }
            }
            Exit::Yield { .. } if ctx.state.exit.get().is_some() => {
                return Slice::Ended(Step::Exit(end_for_exit(ctx)));
            }
            Exit::Yield { from } if ctx.state.host_wait.get() == HostWait::Requested => {
                ctx.state.host_wait.set(HostWait::Waiting {
                    from,
                    fuel_left: *fuel,
                });
                return Slice::Ended(Step::Pending);
            }
            Exit::Yield { from } => {
                let values = take_stack(ctx, thread, from, Status::Suspended);
                deliver(ctx, Delivery::Values(values));
            }
            Exit::Resume { thread: co, from } => {
                let args = {
                    let mut ts = borrow_mut(thread.0, ctx.mc);
                    let args: Vec<Value<'gc>> = ts.stack.drain(from..).collect();
                    args
                };
                match start_resume(ctx, thread, co, &args) {
                    Ok(()) => {}
                    Err(msg) => {
                        let v = ctx.str_value(msg.as_bytes());
                        set_pending(ctx, thread, Pending::Raised(v));
                    }
                }
            }
            Exit::Close { thread: co } => {
                if let Err(msg) = start_close(ctx, thread, co) {
                    let v = ctx.str_value(msg.as_bytes());
                    set_pending(ctx, thread, Pending::Raised(v));
                }
            }
            Exit::Error(e) => {
                if thread == ctx.state.main {
                    let mut traceback = cell_mut(&ctx.state.traceback).take().unwrap_or_default();
                    // An error inside `__tostring` is reported as itself; lua.c's handler
                    // runs on top of the failed call, so its traceback goes on into that one.
                    let described = cell_mut(&ctx.state.describing_error).take();
                    if let Some(failed) = &described {
                        let frames = failed.traceback.strip_prefix("stack traceback:");
                        traceback.push_str(frames.unwrap_or_default());
                    }
                    let error = RuntimeError {
                        message: error_message(ctx, e),
                        traceback,
                    };
                    if described.is_none() && !has_plain_message(e) {
                        let tostring = interp::metamethod(ctx, e, MetaEvent::ToString);
                        if !tostring.is_nil() {
                            *cell_mut(&ctx.state.describing_error) = Some(error);
                            call_on_main(ctx, tostring, &[e]);
                            continue;
                        }
                    }
                    borrow_mut(ctx.state.exec, ctx.mc).chain.clear();
                    borrow_mut(thread.0, ctx.mc).status = Status::Dead;
                    return Slice::Ended(Step::Error(error));
                }
                {
                    let mut ts = borrow_mut(thread.0, ctx.mc);
                    ts.status = Status::Dead;
                    ts.error = e;
                }
                deliver(ctx, Delivery::Error(e));
            }
        }
    }
}

/// Stops every running thread for `os.exit` and takes its request.
fn end_for_exit(ctx: Ctx<'_>) -> ExitRequest {
    let chain = core::mem::take(&mut borrow_mut(ctx.state.exec, ctx.mc).chain);
    for thread in chain {
        borrow_mut(thread.0, ctx.mc).status = Status::Dead;
    }
    ctx.state.exit.take().expect("an exit was requested")
}

/// Calls the finalizer of one object the collector found dead, in the running thread
/// between two instructions.
fn run_pending_finalizer<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut crate::thread::ThreadState<'gc>,
) {
    if ts.finalizing || !matches!(ts.frames.last(), Some(Frame::Lua(_))) {
        return;
    }
    let Some(obj) = borrow_mut(ctx.state.gc, ctx.mc).pending.pop() else {
        return;
    };
    interp::call_finalizer(ctx, thread, ts, obj);
}

/// `lua.c`'s view of an error value.
fn error_message<'gc>(ctx: Ctx<'gc>, e: Value<'gc>) -> String {
    if has_plain_message(e) {
        String::from_utf8_lossy(&interp::tostring_plain(ctx, e)).into_owned()
    } else {
        alloc::format!("(error object is a {} value)", e.type_name())
    }
}

/// Strings and numbers are their own message; `__tostring` describes anything else.
fn has_plain_message(e: Value<'_>) -> bool {
    matches!(e, Value::String(_) | Value::Integer(_) | Value::Float(_))
}

/// What lua.c reports when `__tostring` described an error: the string it gave, without a
/// traceback; if it gave anything else, the error as it was.
fn described_error<'gc>(ctx: Ctx<'gc>, error: RuntimeError) -> RuntimeError {
    match borrow(ctx.state.main.0).stack.first() {
        Some(Value::String(s)) => RuntimeError {
            message: String::from_utf8_lossy(s.as_bytes()).into_owned(),
            traceback: String::new(),
        },
        _ => error,
    }
}

/// Makes the main thread (and only it) ready to call `func` with `args`.
fn call_on_main<'gc>(ctx: Ctx<'gc>, func: Value<'gc>, args: &[Value<'gc>]) {
    let mut ts = borrow_mut(ctx.state.main.0, ctx.mc);
    ts.stack.clear();
    ts.frames.clear();
    ts.tbc.clear();
    ts.open_upvals.clear();
    ts.stack.push(func);
    ts.stack.extend_from_slice(args);
    ts.status = Status::Running;
    let mut exec = borrow_mut(ctx.state.exec, ctx.mc);
    exec.chain.clear();
    exec.chain.push(ctx.state.main);
}

enum Delivery<'gc> {
    Values(Vec<Value<'gc>>),
    Error(Value<'gc>),
}

/// Takes `stack[from..]` off a thread that stops running.
fn take_stack<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    from: usize,
    status: Status,
) -> Vec<Value<'gc>> {
    let mut ts = borrow_mut(thread.0, ctx.mc);
    ts.status = status;
    ts.stack.drain(from..).collect()
}

/// Hands what a coroutine yielded, returned or raised to the thread that resumed it.
fn deliver<'gc>(ctx: Ctx<'gc>, what: Delivery<'gc>) {
    let resumer = {
        let mut exec = borrow_mut(ctx.state.exec, ctx.mc);
        exec.chain.pop();
        *exec.chain.last().expect("a coroutine has a resumer")
    };
    match what {
        Delivery::Values(values) => {
            let at = {
                let mut ts = borrow_mut(resumer.0, ctx.mc);
                let at = ts.stack.len();
                ts.stack.extend_from_slice(&values);
                at
            };
            set_pending(ctx, resumer, Pending::Returned { at });
        }
        Delivery::Error(e) => set_pending(ctx, resumer, Pending::Raised(e)),
    }
}

fn set_pending<'gc>(ctx: Ctx<'gc>, thread: Thread<'gc>, pending: Pending<'gc>) {
    borrow_mut(thread.0, ctx.mc).pending = pending;
}

/// Starts or continues coroutine `co` with `args`, making it the running thread.
fn start_resume<'gc>(
    ctx: Ctx<'gc>,
    resumer: Thread<'gc>,
    co: Thread<'gc>,
    args: &[Value<'gc>],
) -> Result<(), &'static str> {
    if co == resumer {
        return Err("cannot resume non-suspended coroutine");
    }
    {
        let mut ts = borrow_mut(co.0, ctx.mc);
        match ts.status {
            Status::Suspended => {}
            Status::Dead => return Err("cannot resume dead coroutine"),
            _ => return Err("cannot resume non-suspended coroutine"),
        }
        let at = ts.stack.len();
        ts.stack.extend_from_slice(args);
        if let Some(Frame::Native(_)) = ts.frames.last() {
            // Suspended in a yield: the arguments are the yield's results.
            ts.pending = Pending::Returned { at };
        } else if ts.frames.is_empty() && at == 0 {
            return Err("cannot resume dead coroutine");
        }
        ts.status = Status::Running;
    }
    borrow_mut(resumer.0, ctx.mc).status = Status::Normal;
    let mut exec = borrow_mut(ctx.state.exec, ctx.mc);
    if exec.chain.len() >= MAX_RESUME_DEPTH {
        drop(exec);
        borrow_mut(co.0, ctx.mc).status = Status::Suspended;
        borrow_mut(resumer.0, ctx.mc).status = Status::Running;
        return Err("C stack overflow");
    }
    exec.chain.push(co);
    Ok(())
}

/// Makes coroutine `co` the running thread to close its to-be-closed variables.
fn start_close<'gc>(
    ctx: Ctx<'gc>,
    closer: Thread<'gc>,
    co: Thread<'gc>,
) -> Result<(), &'static str> {
    if co == closer {
        return Err("cannot close a running coroutine");
    }
    {
        let mut ts = borrow_mut(co.0, ctx.mc);
        match ts.status {
            Status::Suspended | Status::Dead => {}
            Status::Normal => return Err("cannot close a normal coroutine"),
            Status::Running => return Err("cannot close a running coroutine"),
        }
        ts.closing = Closing::Requested;
        ts.status = Status::Running;
    }
    borrow_mut(closer.0, ctx.mc).status = Status::Normal;
    borrow_mut(ctx.state.exec, ctx.mc).chain.push(co);
    Ok(())
}

/// Most coroutines resumed inside each other (lua5.4's C stack limit plays this role).
const MAX_RESUME_DEPTH: usize = 200;

impl<'gc> Function<'gc> {
    /// Whether this is the native `f`.
    pub fn is_native(self, f: interp::NativeFn) -> bool {
        matches!(self, Function::Native(n) if n.is(f))
    }
}
