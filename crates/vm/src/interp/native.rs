//! What native functions see: their arguments on the thread's stack, helpers that check them
//! the way `lauxlib` does, and the [`Action`] they hand back to the interpreter.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use gc_arena::Collect;

use crate::function::NativeClosure;
use crate::number::{float_to_int, parse_number, Number};
use crate::state::Ctx;
use crate::string::LuaStr;
use crate::table::Table;
use crate::thread::{Thread, ThreadState};
use crate::value::{Function, Value};

/// A native function. Its arguments are `call.arg(0..call.nargs())`; it leaves its results
/// on the stack (see [`NativeCall::ret`]) and returns [`Action::Return`], or asks for a call.
pub type NativeFn =
    for<'gc> fn(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> Result<Action<'gc>, Error<'gc>>;

/// What a native continues with once the call it asked for ends.
pub type ContFn = for<'gc> fn(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    outcome: Outcome<'gc>,
) -> Result<Action<'gc>, Error<'gc>>;

/// How the call a native asked for ended.
#[derive(Clone, Copy)]
pub enum Outcome<'gc> {
    /// Its results are `call.arg(at..)`.
    Returned { at: usize },
    /// It raised this error (only for continuations that catch).
    Raised(Value<'gc>),
}

/// Whether a continuation receives the errors of the call (`pcall`, `xpcall`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Collect)]
#[collect(require_static)]
pub enum Catch {
    No,
    Yes,
    /// Catches, calling the message handler in argument `handler` first (`xpcall`).
    WithHandler {
        handler: u32,
    },
}

/// A continuation: the function, whether it catches errors, whether the call it waits for
/// may yield, and a word of state.
#[derive(Clone, Copy, Collect)]
#[collect(require_static)]
pub struct Cont {
    pub f: ContFn,
    pub catch: Catch,
    /// lua5.4 lets a coroutine yield through `pcall` but not through library functions
    /// such as `table.sort` ("attempt to yield across a C-call boundary"); we keep that.
    pub yieldable: bool,
    pub state: i64,
}

impl Cont {
    pub fn new(f: ContFn) -> Cont {
        Self::with_state(f, 0)
    }

    pub fn with_state(f: ContFn, state: i64) -> Cont {
        Cont {
            f,
            catch: Catch::No,
            yieldable: false,
            state,
        }
    }

    /// After a yield: the values the coroutine is resumed with are the results.
    pub fn resumed_values() -> Cont {
        Self::yieldable(super::call::return_all, Catch::No)
    }

    /// A continuation through which coroutines may yield (`pcall`, `xpcall`, `dofile`).
    pub fn yieldable(f: ContFn, catch: Catch) -> Cont {
        Cont {
            f,
            catch,
            yieldable: true,
            state: 0,
        }
    }
}

/// What a native function asks the interpreter to do next.
pub enum Action<'gc> {
    /// Its results are `call.arg(0..)`.
    Return,
    /// Call `arg(at)` with `arg(at+1..)`; then `then`.
    Call { at: usize, then: Cont },
    /// Call `arg(at)` with `arg(at+1..)`; its results are the native's results.
    TailCall { at: usize },
    /// Yield `arg(at..)` from the running coroutine; `then` gets the values it is resumed
    /// with (`Cont::resumed_values` returns them). Under a debug hook, a `then` with state 0
    /// is taken to be `resumed_values`; one with state goes on as it is.
    Yield { at: usize, then: Cont },
    /// Resume `thread` with `arg(at..)`; then `then` gets what it yields or returns (or its
    /// error, always caught).
    Resume {
        thread: Thread<'gc>,
        at: usize,
        then: Cont,
    },
    /// Close the suspended or dead coroutine `thread`: call the `__close` of its pending
    /// to-be-closed variables; then `then` gets no values, or the error it ended with.
    Close { thread: Thread<'gc>, then: Cont },
    /// Give the interpreter its turn (long library work pauses after a share of fuel, so
    /// that a run's budget and its slices hold); then `then` gets no values.
    Pause { then: Cont },
    /// Deliver a debug hook event about this native (the interpreter's own use); then
    /// `then`.
    Hook { event: &'static str, then: Cont },
}

/// An error raised by a native function or an instruction.
#[derive(Clone)]
pub enum Error<'gc> {
    /// A value raised as it is (by `error`, or already located).
    Value(Value<'gc>),
    /// A message to prefix with the position of the calling Lua function (`luaL_error`).
    Runtime(String),
    /// `bad argument #arg to 'name' (msg)`, the name found from the call site.
    BadArg { arg: usize, msg: String },
}

impl<'gc> Error<'gc> {
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error::Runtime(msg.into())
    }

    pub fn bad_arg(arg: usize, msg: impl Into<String>) -> Self {
        Error::BadArg {
            arg,
            msg: msg.into(),
        }
    }
}

/// The view a native function has of its call.
pub struct NativeCall<'a, 'gc> {
    pub(crate) th: &'a mut ThreadState<'gc>,
    pub(crate) base: usize,
    pub(crate) closure: NativeClosure<'gc>,
    pub(crate) thread: Thread<'gc>,
    /// The native runs as a continuation: its own frame is on top of `th.frames`.
    pub(crate) resumed: bool,
    pub(crate) state: i64,
}

/// The type name used in messages: `__name` from the metatable when it is a string.
pub fn type_name_for_message<'gc>(ctx: Ctx<'gc>, v: Value<'gc>) -> String {
    if let Some(Value::String(s)) = ctx.metafield(v, "__name") {
        return s.to_str_lossy().into_owned();
    }
    match v {
        Value::LightUserData(_) => "light userdata".to_string(),
        _ => v.type_name().to_string(),
    }
}

impl<'a, 'gc> NativeCall<'a, 'gc> {
    pub fn nargs(&self) -> usize {
        self.th.stack.len() - self.base
    }

    #[inline]
    pub fn arg(&self, i: usize) -> Value<'gc> {
        self.th
            .stack
            .get(self.base + i)
            .copied()
            .unwrap_or_default()
    }

    pub fn args(&self) -> &[Value<'gc>] {
        &self.th.stack[self.base..]
    }

    pub fn set_arg(&mut self, i: usize, v: Value<'gc>) {
        let idx = self.base + i;
        if idx >= self.th.stack.len() {
            self.th.stack.resize(idx + 1, Value::Nil);
        }
        self.th.stack[idx] = v;
    }

    /// Keeps only the first `n` arguments (padding with nil).
    pub fn set_nargs(&mut self, n: usize) {
        self.th.stack.resize(self.base + n, Value::Nil);
    }

    /// Appends a value after the arguments.
    pub fn push(&mut self, v: Value<'gc>) {
        self.th.stack.push(v);
    }

    pub fn extend(&mut self, vs: &[Value<'gc>]) {
        self.th.stack.extend_from_slice(vs);
    }

    /// Replaces the arguments with `results` and returns them.
    pub fn ret(&mut self, results: &[Value<'gc>]) -> Result<Action<'gc>, Error<'gc>> {
        self.th.stack.truncate(self.base);
        self.th.stack.extend_from_slice(results);
        Ok(Action::Return)
    }

    pub fn ret0(&mut self) -> Result<Action<'gc>, Error<'gc>> {
        self.th.stack.truncate(self.base);
        Ok(Action::Return)
    }

    pub fn ret1(&mut self, v: impl Into<Value<'gc>>) -> Result<Action<'gc>, Error<'gc>> {
        let v = v.into();
        self.th.stack.truncate(self.base);
        self.th.stack.push(v);
        Ok(Action::Return)
    }

    /// Returns `arg(from..)`.
    pub fn ret_from(&mut self, from: usize) -> Result<Action<'gc>, Error<'gc>> {
        let start = (self.base + from).min(self.th.stack.len());
        self.th.stack.drain(self.base..start);
        Ok(Action::Return)
    }

    /// Inserts `v` before `arg(at)`.
    pub fn insert(&mut self, at: usize, v: Value<'gc>) {
        let idx = (self.base + at).min(self.th.stack.len());
        self.th.stack.insert(idx, v);
    }

    pub fn upval(&self, i: usize) -> Value<'gc> {
        self.closure.upval(i)
    }

    pub fn closure(&self) -> NativeClosure<'gc> {
        self.closure
    }

    /// The running thread.
    /// The running thread, for reading what closures capture (external tables).
    pub fn running(&self) -> crate::external::Running<'_, 'gc> {
        crate::external::Running::new(self.thread, self.th)
    }

    pub fn thread(&self) -> Thread<'gc> {
        self.thread
    }

    /// The continuation's word of state.
    pub fn state(&self) -> i64 {
        self.state
    }

    /// Whether it runs as a continuation, with a frame of its own on top of the thread's;
    /// a native called in place has none.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    pub fn thread_state(&mut self) -> &mut ThreadState<'gc> {
        self.th
    }

    /// `chunk:line: ` of the function `level` levels up from this native (1: its caller),
    /// or nothing when that is not a Lua function (`luaL_where`).
    pub fn where_(&self, level: usize) -> String {
        let own = if self.resumed { 1 } else { 0 };
        let index = self.th.frames.len().checked_sub(level + own);
        super::unwind::location(self.th, index)
    }

    fn type_error(&self, ctx: Ctx<'gc>, i: usize, expected: &str) -> Error<'gc> {
        let got = if i >= self.nargs() {
            "no value".to_string()
        } else {
            type_name_for_message(ctx, self.arg(i))
        };
        Error::bad_arg(i + 1, format!("{expected} expected, got {got}"))
    }

    pub fn check_any(&self, ctx: Ctx<'gc>, i: usize) -> Result<Value<'gc>, Error<'gc>> {
        if i >= self.nargs() {
            return Err(Error::bad_arg(i + 1, "value expected"));
        }
        let _ = ctx;
        Ok(self.arg(i))
    }

    pub fn check_table(&self, ctx: Ctx<'gc>, i: usize) -> Result<Table<'gc>, Error<'gc>> {
        match self.arg(i) {
            Value::Table(t) => Ok(t),
            _ => Err(self.type_error(ctx, i, "table")),
        }
    }

    pub fn check_function(&self, ctx: Ctx<'gc>, i: usize) -> Result<Function<'gc>, Error<'gc>> {
        match self.arg(i) {
            Value::Function(f) => Ok(f),
            _ => Err(self.type_error(ctx, i, "function")),
        }
    }

    pub fn check_thread(&self, ctx: Ctx<'gc>, i: usize) -> Result<Thread<'gc>, Error<'gc>> {
        match self.arg(i) {
            Value::Thread(t) => Ok(t),
            _ => Err(self.type_error(ctx, i, "thread")),
        }
    }

    /// A number argument (strings convert), as `luaL_checknumber`.
    pub fn check_number(&self, ctx: Ctx<'gc>, i: usize) -> Result<f64, Error<'gc>> {
        match to_number(self.arg(i)) {
            Some(Number::Int(n)) => Ok(n as f64),
            Some(Number::Float(f)) => Ok(f),
            None => Err(self.type_error(ctx, i, "number")),
        }
    }

    /// A number argument keeping its subtype.
    pub fn check_numeric(&self, ctx: Ctx<'gc>, i: usize) -> Result<Number, Error<'gc>> {
        to_number(self.arg(i)).ok_or_else(|| self.type_error(ctx, i, "number"))
    }

    /// An integer argument (strings and integral floats convert), as `luaL_checkinteger`.
    pub fn check_integer(&self, ctx: Ctx<'gc>, i: usize) -> Result<i64, Error<'gc>> {
        match to_number(self.arg(i)) {
            Some(Number::Int(n)) => Ok(n),
            Some(Number::Float(f)) => float_to_int(f)
                .ok_or_else(|| Error::bad_arg(i + 1, "number has no integer representation")),
            None => Err(self.type_error(ctx, i, "number")),
        }
    }

    pub fn opt_integer(&self, ctx: Ctx<'gc>, i: usize, default: i64) -> Result<i64, Error<'gc>> {
        if self.arg(i).is_nil() {
            Ok(default)
        } else {
            self.check_integer(ctx, i)
        }
    }

    pub fn opt_number(&self, ctx: Ctx<'gc>, i: usize, default: f64) -> Result<f64, Error<'gc>> {
        if self.arg(i).is_nil() {
            Ok(default)
        } else {
            self.check_number(ctx, i)
        }
    }

    /// A string argument (numbers convert, and the converted string replaces the argument
    /// as in `luaL_checklstring`).
    pub fn check_string(&mut self, ctx: Ctx<'gc>, i: usize) -> Result<LuaStr<'gc>, Error<'gc>> {
        match self.arg(i) {
            Value::String(s) => Ok(s),
            v @ (Value::Integer(_) | Value::Float(_)) => {
                let s = ctx.number_to_string(v);
                self.set_arg(i, Value::String(s));
                Ok(s)
            }
            _ => Err(self.type_error(ctx, i, "string")),
        }
    }

    pub fn check_bytes(&mut self, ctx: Ctx<'gc>, i: usize) -> Result<&'gc [u8], Error<'gc>> {
        self.check_string(ctx, i).map(|s| s.as_bytes())
    }

    pub fn opt_string(
        &mut self,
        ctx: Ctx<'gc>,
        i: usize,
    ) -> Result<Option<LuaStr<'gc>>, Error<'gc>> {
        if self.arg(i).is_nil() {
            Ok(None)
        } else {
            self.check_string(ctx, i).map(Some)
        }
    }

    /// An error for an argument of the wrong type (`luaL_typeerror`).
    pub fn type_err(&self, ctx: Ctx<'gc>, i: usize, expected: &str) -> Error<'gc> {
        self.type_error(ctx, i, expected)
    }

    /// `luaL_checkoption`: the index of the argument in `options`.
    pub fn check_option(
        &mut self,
        ctx: Ctx<'gc>,
        i: usize,
        default: Option<&str>,
        options: &[&str],
    ) -> Result<usize, Error<'gc>> {
        let name: Vec<u8> = match (self.arg(i), default) {
            (Value::Nil, Some(d)) => d.as_bytes().to_vec(),
            _ => self.check_bytes(ctx, i)?.to_vec(),
        };
        options
            .iter()
            .position(|o| o.as_bytes() == name.as_slice())
            .ok_or_else(|| {
                Error::bad_arg(
                    i + 1,
                    format!("invalid option '{}'", String::from_utf8_lossy(&name)),
                )
            })
    }
}

/// Number coercion of a value (strings convert), as arithmetic and `tonumber` do.
pub fn to_number(v: Value<'_>) -> Option<Number> {
    match v {
        Value::Integer(i) => Some(Number::Int(i)),
        Value::Float(f) => Some(Number::Float(f)),
        Value::String(s) => parse_number(s.as_bytes()),
        _ => None,
    }
}
