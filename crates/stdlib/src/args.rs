//! Argument checking and error construction shared by every library function.
//!
//! Messages follow `lauxlib.c`: `bad argument #n to 'name' (...)`, prefixed with the calling
//! Lua frame's `chunk:line:` when the caller is Lua code. When the caller is another callback
//! (for example `pcall(string.rep)`), Lua finds the function's name through the loaded
//! libraries instead (`'string.rep'`) and adds no position; we do the same.

use piccolo::{Context, Error, Execution, Stack, String as LuaString, Table, Value};

use crate::num;

/// A library function's names: short (`rep`, as seen from a call site) and qualified
/// (`string.rep`, what Lua reports when no Lua frame called it).
#[derive(Clone, Copy)]
pub(crate) struct Name {
    pub lib: &'static str,
    pub func: &'static str,
}

impl Name {
    pub const fn new(lib: &'static str, func: &'static str) -> Self {
        Name { lib, func }
    }

    fn shown(self, exec: &Execution) -> std::string::String {
        if exec.upper_lua_frame().is_some() || self.lib.is_empty() {
            self.func.to_string()
        } else {
            format!("{}.{}", self.lib, self.func)
        }
    }
}

/// `chunk:line: ` of the Lua code that called the running callback, or nothing.
pub(crate) fn position(exec: &Execution) -> std::string::String {
    match exec.upper_lua_frame() {
        Some(frame) => format!(
            "{}:{}: ",
            crate::display_chunk_name(frame.chunk_name.as_bytes()),
            frame.current_line
        ),
        None => std::string::String::new(),
    }
}

/// A Lua error whose value is the string `msg`.
pub(crate) fn plain_error<'gc>(ctx: Context<'gc>, msg: impl AsRef<[u8]>) -> Error<'gc> {
    Value::String(ctx.intern(msg.as_ref())).into()
}

/// A Lua error `msg` prefixed with the caller's position, like `luaL_error`.
pub(crate) fn error<'gc>(ctx: Context<'gc>, exec: &Execution, msg: impl AsRef<str>) -> Error<'gc> {
    plain_error(ctx, format!("{}{}", position(exec), msg.as_ref()))
}

/// `bad argument #n to 'name' (msg)`, like `luaL_argerror`.
pub(crate) fn arg_error<'gc>(
    ctx: Context<'gc>,
    exec: &Execution,
    name: Name,
    n: usize,
    msg: impl AsRef<str>,
) -> Error<'gc> {
    error(
        ctx,
        exec,
        format!(
            "bad argument #{} to '{}' ({})",
            n,
            name.shown(exec),
            msg.as_ref()
        ),
    )
}

/// The type name Lua shows in messages: `__name` from the metatable if it is a string.
pub(crate) fn type_name<'gc>(ctx: Context<'gc>, v: Value<'gc>) -> std::string::String {
    let mt = match v {
        Value::Table(t) => t.metatable(),
        Value::UserData(u) => u.metatable(),
        _ => None,
    };
    if let Some(mt) = mt {
        if let Value::String(s) = mt.get(ctx, "__name") {
            return s.to_str_lossy().into_owned();
        }
    }
    v.type_name().to_string()
}

/// Reads and checks a callback's arguments, naming the function in error messages.
pub(crate) struct Args<'gc, 'e, 'x> {
    pub ctx: Context<'gc>,
    pub exec: &'e Execution<'gc, 'x>,
    pub name: Name,
}

impl<'gc, 'e, 'x> Args<'gc, 'e, 'x> {
    pub fn new(ctx: Context<'gc>, exec: &'e Execution<'gc, 'x>, name: Name) -> Self {
        Args { ctx, exec, name }
    }

    pub fn error(&self, msg: impl AsRef<str>) -> Error<'gc> {
        error(self.ctx, self.exec, msg)
    }

    pub fn arg_error(&self, n: usize, msg: impl AsRef<str>) -> Error<'gc> {
        arg_error(self.ctx, self.exec, self.name, n, msg)
    }

    /// `T expected, got U` for argument `i` (0-based), `no value` past the end.
    pub fn type_error(&self, stack: &Stack<'gc, '_>, i: usize, expected: &str) -> Error<'gc> {
        let got = if i >= stack.len() {
            "no value".to_string()
        } else {
            type_name(self.ctx, stack.get(i))
        };
        self.arg_error(i + 1, format!("{expected} expected, got {got}"))
    }

    pub fn any(&self, stack: &Stack<'gc, '_>, i: usize) -> Result<Value<'gc>, Error<'gc>> {
        if i >= stack.len() {
            Err(self.arg_error(i + 1, "value expected"))
        } else {
            Ok(stack.get(i))
        }
    }

    pub fn table(&self, stack: &Stack<'gc, '_>, i: usize) -> Result<Table<'gc>, Error<'gc>> {
        match stack.get(i) {
            Value::Table(t) => Ok(t),
            _ => Err(self.type_error(stack, i, "table")),
        }
    }

    pub fn integer(&self, stack: &Stack<'gc, '_>, i: usize) -> Result<i64, Error<'gc>> {
        let v = stack.get(i);
        match num::to_integer_strict(v) {
            Some(n) => Ok(n),
            None => {
                if num::to_number(v).is_some() {
                    Err(self.arg_error(i + 1, "number has no integer representation"))
                } else {
                    Err(self.type_error(stack, i, "number"))
                }
            }
        }
    }

    pub fn opt_integer(
        &self,
        stack: &Stack<'gc, '_>,
        i: usize,
        default: i64,
    ) -> Result<i64, Error<'gc>> {
        if stack.get(i).is_nil() {
            Ok(default)
        } else {
            self.integer(stack, i)
        }
    }

    pub fn number(&self, stack: &Stack<'gc, '_>, i: usize) -> Result<f64, Error<'gc>> {
        num::to_number(stack.get(i)).ok_or_else(|| self.type_error(stack, i, "number"))
    }

    /// A string argument; numbers are converted as Lua does (`3.0` stays `3.0`).
    pub fn string(&self, stack: &Stack<'gc, '_>, i: usize) -> Result<LuaString<'gc>, Error<'gc>> {
        match stack.get(i) {
            Value::String(s) => Ok(s),
            v @ (Value::Integer(_) | Value::Number(_)) => {
                Ok(self.ctx.intern(num::number_to_string(v).as_bytes()))
            }
            _ => Err(self.type_error(stack, i, "string")),
        }
    }

    pub fn bytes(&self, stack: &Stack<'gc, '_>, i: usize) -> Result<&'gc [u8], Error<'gc>> {
        Ok(self.string(stack, i)?.as_bytes())
    }

    pub fn opt_string(
        &self,
        stack: &Stack<'gc, '_>,
        i: usize,
    ) -> Result<Option<LuaString<'gc>>, Error<'gc>> {
        if stack.get(i).is_nil() {
            Ok(None)
        } else {
            self.string(stack, i).map(Some)
        }
    }
}
