//! The basic functions (`print`, `tostring`, `tonumber`, `pcall`, `load`, ...).

use std::{cell::Cell, rc::Rc};

use gc_arena::{Collect, Gc};
use piccolo::{
    meta_ops, table::NextValue, BoxSequence, Callback, CallbackReturn, Context, Error, Execution,
    Function, Sequence, SequencePoll, Stack, Table, Value,
};

use crate::args::{self, Args, Name};
use crate::num::{self, Num};
use crate::Platform;

/// How `tostring` shows a value that has no `__tostring`: `%.14g` numbers, `type: 0x...`.
pub(crate) fn plain_tostring<'gc>(ctx: Context<'gc>, v: Value<'gc>) -> Vec<u8> {
    let ptr = match v {
        Value::Nil => return b"nil".to_vec(),
        Value::Boolean(b) => {
            return if b {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            }
        }
        Value::Integer(_) | Value::Number(_) => return num::number_to_string(v).into_bytes(),
        Value::String(s) => return s.as_bytes().to_vec(),
        Value::Table(t) => Gc::as_ptr(t.into_inner()) as *const u8,
        Value::Function(Function::Closure(c)) => Gc::as_ptr(c.into_inner()) as *const u8,
        Value::Function(Function::Callback(c)) => Gc::as_ptr(c.into_inner()) as *const u8,
        Value::Thread(t) => Gc::as_ptr(t.into_inner()) as *const u8,
        Value::UserData(u) => Gc::as_ptr(u.into_inner()) as *const u8,
    };
    format!("{}: {:p}", args::type_name(ctx, v), ptr).into_bytes()
}

/// The `__tostring` metamethod of `v`, if it has one.
pub(crate) fn tostring_meta<'gc>(ctx: Context<'gc>, v: Value<'gc>) -> Option<Value<'gc>> {
    let mt = match v {
        Value::Table(t) => t.metatable(),
        Value::UserData(u) => u.metatable(),
        _ => None,
    }?;
    let f = mt.get(ctx, "__tostring");
    (!f.is_nil()).then_some(f)
}

/// What to do once every value has been converted by [`ToStrings`].
pub(crate) enum Then {
    Print(Rc<dyn Platform>),
    /// Return the first converted value (`tostring`).
    First,
    /// Call a function with the converted values as the stack (`string.format`).
    Apply(
        for<'gc> fn(
            Context<'gc>,
            &Execution<'gc, '_>,
            &[Value<'gc>],
            &mut Stack<'gc, '_>,
        ) -> Result<(), Error<'gc>>,
    ),
}

/// Converts the values at `targets` with their `__tostring` metamethods, one Lua call at a
/// time, then finishes with [`Then`].
#[derive(Collect)]
#[collect(no_drop)]
pub(crate) struct ToStrings<'gc> {
    values: Vec<Value<'gc>>,
    targets: Vec<usize>,
    pending: Option<usize>,
    #[collect(require_static)]
    then: Then,
}

impl<'gc> ToStrings<'gc> {
    /// Starts converting: returns what the callback should return.
    pub fn start(
        ctx: Context<'gc>,
        exec: &Execution<'gc, '_>,
        values: Vec<Value<'gc>>,
        targets: Vec<usize>,
        then: Then,
        stack: &mut Stack<'gc, '_>,
    ) -> Result<CallbackReturn<'gc>, Error<'gc>> {
        let mut seq = ToStrings {
            values,
            targets,
            pending: None,
            then,
        };
        match seq.advance(ctx, exec, stack)? {
            SequencePoll::Return => Ok(CallbackReturn::Return),
            SequencePoll::Call { function, .. } => Ok(CallbackReturn::Call {
                function,
                then: Some(BoxSequence::new(&ctx, seq)),
            }),
            _ => unreachable!("ToStrings only calls or returns"),
        }
    }

    fn advance(
        &mut self,
        ctx: Context<'gc>,
        exec: &Execution<'gc, '_>,
        stack: &mut Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        if let Some(i) = self.pending.take() {
            match stack.get(0) {
                v @ Value::String(_) => self.values[i] = v,
                v @ (Value::Integer(_) | Value::Number(_)) => {
                    self.values[i] = ctx.intern(num::number_to_string(v).as_bytes()).into()
                }
                _ => return Err(args::error(ctx, exec, "'__tostring' must return a string")),
            }
        }
        while let Some(i) = self.targets.pop() {
            let v = self.values[i];
            if let Some(f) = tostring_meta(ctx, v) {
                self.pending = Some(i);
                stack.replace(ctx, v);
                return Ok(SequencePoll::Call {
                    function: meta_ops::call(ctx, f)?,
                    is_tail: false,
                });
            }
        }
        stack.clear();
        match &self.then {
            Then::Print(platform) => {
                let mut line = Vec::new();
                for (i, &v) in self.values.iter().enumerate() {
                    if i > 0 {
                        line.push(b'\t');
                    }
                    line.extend_from_slice(&plain_tostring(ctx, v));
                }
                line.push(b'\n');
                platform.write_output(&line);
            }
            Then::First => {
                let v = self.values[0];
                let s = match v {
                    Value::String(_) => v,
                    _ => ctx.intern(&plain_tostring(ctx, v)).into(),
                };
                stack.push_back(s);
            }
            Then::Apply(f) => f(ctx, exec, &self.values, stack)?,
        }
        Ok(SequencePoll::Return)
    }
}

impl<'gc> Sequence<'gc> for ToStrings<'gc> {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        self.advance(ctx, &exec, &mut stack)
    }
}

fn set<'gc>(ctx: Context<'gc>, t: Table<'gc>, name: &'static str, f: Callback<'gc>) {
    t.set(ctx, name, f).unwrap();
}

/// Lua's raw equality (`rawequal`, and the library's own comparisons).
pub(crate) fn raw_equal<'gc>(a: Value<'gc>, b: Value<'gc>) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Boolean(x), Value::Boolean(y)) => x == y,
        (Value::Integer(x), Value::Integer(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Integer(x), Value::Number(y)) | (Value::Number(y), Value::Integer(x)) => {
            num::float_to_integer(y) == Some(x)
        }
        (Value::String(x), Value::String(y)) => x.as_bytes() == y.as_bytes(),
        (Value::Table(x), Value::Table(y)) => x == y,
        (Value::Function(x), Value::Function(y)) => x == y,
        (Value::Thread(x), Value::Thread(y)) => x == y,
        (Value::UserData(x), Value::UserData(y)) => x == y,
        _ => false,
    }
}

/// Turns a piccolo runtime error into the string Lua code sees (Lua's own errors are values).
pub(crate) fn error_value<'gc>(ctx: Context<'gc>, error: Error<'gc>) -> Value<'gc> {
    match error {
        Error::Lua(v) => v.0,
        Error::Runtime(e) => ctx.intern(e.to_string().as_bytes()).into(),
    }
}

#[derive(Collect)]
#[collect(no_drop)]
struct PCall<'gc> {
    handler: Option<Value<'gc>>,
    handling: bool,
}

impl<'gc> Sequence<'gc> for PCall<'gc> {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        if self.handling {
            let v = stack.get(0);
            stack.replace(ctx, (false, v));
        } else {
            stack.push_front(Value::Boolean(true));
        }
        Ok(SequencePoll::Return)
    }

    fn error(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        error: Error<'gc>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        let value = error_value(ctx, error);
        match self.handler {
            Some(h) if !self.handling => {
                self.handling = true;
                stack.replace(ctx, value);
                Ok(SequencePoll::Call {
                    function: meta_ops::call(ctx, h)?,
                    is_tail: false,
                })
            }
            _ => {
                stack.replace(ctx, (false, value));
                Ok(SequencePoll::Return)
            }
        }
    }
}

/// Collects a `load` reader function's pieces, then compiles them.
#[derive(Collect)]
#[collect(no_drop)]
struct LoadReader<'gc> {
    reader: Function<'gc>,
    env: Table<'gc>,
    #[collect(require_static)]
    source: Vec<u8>,
    #[collect(require_static)]
    name: Vec<u8>,
    #[collect(require_static)]
    mode: Vec<u8>,
}

impl<'gc> Sequence<'gc> for LoadReader<'gc> {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        match stack.get(0) {
            Value::String(s) if !s.as_bytes().is_empty() => {
                self.source.extend_from_slice(s.as_bytes());
                stack.clear();
                Ok(SequencePoll::Call {
                    function: self.reader,
                    is_tail: false,
                })
            }
            Value::Nil | Value::String(_) => {
                let result = load_chunk(ctx, &self.source, &self.name, &self.mode, self.env);
                push_load_result(ctx, result, &mut stack);
                Ok(SequencePoll::Return)
            }
            _ => {
                stack.replace(ctx, (Value::Nil, "reader function must return a string"));
                Ok(SequencePoll::Return)
            }
        }
    }

    fn error(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        error: Error<'gc>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        let v = error_value(ctx, error);
        stack.replace(ctx, (Value::Nil, v));
        Ok(SequencePoll::Return)
    }
}

fn push_load_result<'gc>(
    ctx: Context<'gc>,
    result: Result<Function<'gc>, String>,
    stack: &mut Stack<'gc, '_>,
) {
    match result {
        Ok(f) => stack.replace(ctx, f),
        Err(msg) => stack.replace(ctx, (Value::Nil, ctx.intern(msg.as_bytes()))),
    }
}

fn load_chunk<'gc>(
    ctx: Context<'gc>,
    source: &[u8],
    name: &[u8],
    mode: &[u8],
    env: Table<'gc>,
) -> Result<Function<'gc>, String> {
    let shown = crate::display_chunk_name(name);
    let binary = source.first() == Some(&0x1b);
    if binary && !mode.contains(&b'b') {
        return Err(format!(
            "attempt to load a binary chunk (mode is '{}')",
            String::from_utf8_lossy(mode)
        ));
    }
    if !binary && !mode.contains(&b't') {
        return Err(format!(
            "attempt to load a text chunk (mode is '{}')",
            String::from_utf8_lossy(mode)
        ));
    }
    if binary {
        return Err(format!("{shown}: binary chunks are not supported yet"));
    }
    crate::compile(ctx, name, source, env).map(Function::Closure)
}

fn tonumber_base(s: &[u8], base: u32) -> Option<i64> {
    let s = num::trim(s);
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &b in digits {
        let d = (b as char).to_digit(36)?;
        if d >= base {
            return None;
        }
        n = n.wrapping_mul(base as i64).wrapping_add(d as i64);
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

pub(crate) fn load<'gc>(ctx: Context<'gc>, platform: Rc<dyn Platform>) {
    // ipairs: piccolo's version already indexes through `__index`, as 5.4 does.
    piccolo::stdlib::load_base(ctx);
    let g = ctx.globals();
    const B: &str = "";

    g.set(ctx, "_G", g).unwrap();
    g.set(ctx, "_VERSION", "Lua 5.4").unwrap();

    set(
        ctx,
        g,
        "print",
        Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
            let values: Vec<Value> = stack.drain(..).collect();
            let targets: Vec<usize> = (0..values.len())
                .rev()
                .filter(|&i| tostring_meta(ctx, values[i]).is_some())
                .collect();
            ToStrings::start(
                ctx,
                &exec,
                values,
                targets,
                Then::Print(platform.clone()),
                &mut stack,
            )
        }),
    );

    set(
        ctx,
        g,
        "tostring",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "tostring"));
            let v = a.any(&stack, 0)?;
            stack.clear();
            ToStrings::start(ctx, &exec, vec![v], vec![0], Then::First, &mut stack)
        }),
    );

    set(
        ctx,
        g,
        "tonumber",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "tonumber"));
            let result: Value = if stack.get(1).is_nil() {
                let v = a.any(&stack, 0)?;
                match v {
                    Value::Integer(_) | Value::Number(_) => v,
                    Value::String(s) => match num::parse(s.as_bytes()) {
                        Some(Num::Int(i)) => i.into(),
                        Some(Num::Float(f)) => f.into(),
                        None => Value::Nil,
                    },
                    _ => Value::Nil,
                }
            } else {
                let base = a.integer(&stack, 1)?;
                let s = match stack.get(0) {
                    Value::String(s) => s,
                    _ => return Err(a.type_error(&stack, 0, "string")),
                };
                if !(2..=36).contains(&base) {
                    return Err(a.arg_error(2, "base out of range"));
                }
                tonumber_base(s.as_bytes(), base as u32).map_or(Value::Nil, Value::Integer)
            };
            stack.replace(ctx, result);
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "type",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let v = Args::new(ctx, &exec, Name::new(B, "type")).any(&stack, 0)?;
            stack.replace(ctx, v.type_name());
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "error",
        Callback::from_fn(&ctx, |ctx, exec, stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "error"));
            let level = a.opt_integer(&stack, 1, 1)?;
            let v = stack.get(0);
            // Only level 1 can be located: piccolo shows a callback its caller alone.
            if let (Value::String(s), 1) = (v, level) {
                let mut msg = args::position(&exec).into_bytes();
                msg.extend_from_slice(s.as_bytes());
                return Err(args::plain_error(ctx, msg));
            }
            Err(v.into())
        }),
    );

    set(
        ctx,
        g,
        "assert",
        Callback::from_fn(&ctx, |ctx, exec, stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "assert"));
            let v = a.any(&stack, 0)?;
            if v.to_bool() {
                Ok(CallbackReturn::Return)
            } else {
                // Like Lua, the message goes through `error` at level 1.
                match stack.get(1) {
                    Value::Nil if stack.len() < 2 => Err(a.error("assertion failed!")),
                    Value::String(s) => {
                        let mut msg = args::position(&exec).into_bytes();
                        msg.extend_from_slice(s.as_bytes());
                        Err(args::plain_error(ctx, msg))
                    }
                    v => Err(v.into()),
                }
            }
        }),
    );

    set(
        ctx,
        g,
        "pcall",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "pcall"));
            let f = a.any(&stack, 0)?;
            stack.pop_front();
            let seq = PCall {
                handler: None,
                handling: false,
            };
            match meta_ops::call(ctx, f) {
                Ok(function) => Ok(CallbackReturn::Call {
                    function,
                    then: Some(BoxSequence::new(&ctx, seq)),
                }),
                Err(_) => {
                    let msg = format!("attempt to call a {} value", f.type_name());
                    stack.replace(ctx, (false, ctx.intern(msg.as_bytes())));
                    Ok(CallbackReturn::Return)
                }
            }
        }),
    );

    set(
        ctx,
        g,
        "xpcall",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "xpcall"));
            let f = stack.get(0);
            let h = stack.get(1);
            if !matches!(h, Value::Function(_)) {
                return Err(a.type_error(&stack, 1, "function"));
            }
            stack.drain(0..2);
            let seq = PCall {
                handler: Some(h),
                handling: false,
            };
            let function = match meta_ops::call(ctx, f) {
                Ok(function) => function,
                Err(_) => {
                    // The handler sees the call error, as in Lua.
                    let msg = format!("attempt to call a {} value", f.type_name());
                    stack.replace(ctx, ctx.intern(msg.as_bytes()));
                    return Ok(CallbackReturn::Call {
                        function: meta_ops::call(ctx, h)?,
                        then: Some(BoxSequence::new(
                            &ctx,
                            PCall {
                                handler: None,
                                handling: true,
                            },
                        )),
                    });
                }
            };
            Ok(CallbackReturn::Call {
                function,
                then: Some(BoxSequence::new(&ctx, seq)),
            })
        }),
    );

    set(
        ctx,
        g,
        "select",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "select"));
            let top = stack.len() as i64;
            if let Value::String(s) = stack.get(0) {
                if s.as_bytes() == b"#" {
                    stack.replace(ctx, top - 1);
                    return Ok(CallbackReturn::Return);
                }
            }
            let mut n = a.integer(&stack, 0)?;
            if n < 0 {
                n += top;
            } else if n > top {
                n = top;
            }
            if n < 1 {
                return Err(a.arg_error(1, "index out of range"));
            }
            stack.drain(0..n as usize);
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "rawequal",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "rawequal"));
            let x = a.any(&stack, 0)?;
            let y = a.any(&stack, 1)?;
            stack.replace(ctx, raw_equal(x, y));
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "rawlen",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "rawlen"));
            let n = match stack.get(0) {
                Value::Table(t) => t.length(),
                Value::String(s) => s.len(),
                _ => return Err(a.type_error(&stack, 0, "table or string")),
            };
            stack.replace(ctx, n);
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "rawget",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "rawget"));
            let t = a.table(&stack, 0)?;
            a.any(&stack, 1)?;
            let v = t.get_value(stack.get(1));
            stack.replace(ctx, v);
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "rawset",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "rawset"));
            let t = a.table(&stack, 0)?;
            a.any(&stack, 1)?;
            a.any(&stack, 2)?;
            raw_set(ctx, &exec, t, stack.get(1), stack.get(2))?;
            stack.replace(ctx, t);
            Ok(CallbackReturn::Return)
        }),
    );

    // Strings have a metatable in Lua whose `__index` is `string`; piccolo has none, but
    // `getmetatable("")` should still answer as Lua does.
    let string_meta = Table::new(&ctx);
    set(
        ctx,
        g,
        "getmetatable",
        Callback::from_fn_with(&ctx, string_meta, |string_meta, ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "getmetatable"));
            let mt = match a.any(&stack, 0)? {
                Value::Table(t) => t.metatable(),
                Value::UserData(u) => u.metatable(),
                Value::String(_) => {
                    if string_meta.get(ctx, "__index").is_nil() {
                        string_meta
                            .set(ctx, "__index", ctx.get_global("string"))
                            .unwrap();
                    }
                    Some(*string_meta)
                }
                _ => None,
            };
            let result = match mt {
                Some(mt) => match mt.get(ctx, "__metatable") {
                    Value::Nil => Value::Table(mt),
                    protected => protected,
                },
                None => Value::Nil,
            };
            stack.replace(ctx, result);
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "setmetatable",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "setmetatable"));
            let t = a.table(&stack, 0)?;
            let mt = match stack.get(1) {
                Value::Nil if stack.len() >= 2 => None,
                Value::Table(mt) => Some(mt),
                _ => return Err(a.type_error(&stack, 1, "nil or table")),
            };
            if let Some(old) = t.metatable() {
                if !old.get(ctx, "__metatable").is_nil() {
                    return Err(a.error("cannot change a protected metatable"));
                }
            }
            t.set_metatable(&ctx, mt);
            stack.replace(ctx, t);
            Ok(CallbackReturn::Return)
        }),
    );

    let next = Callback::from_fn(&ctx, |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, Name::new(B, "next"));
        let t = a.table(&stack, 0)?;
        match t.next(stack.get(1)) {
            NextValue::Found { key, value } => stack.replace(ctx, (key, value)),
            NextValue::Last => stack.replace(ctx, Value::Nil),
            NextValue::NotFound => return Err(a.error("invalid key to 'next'")),
        }
        Ok(CallbackReturn::Return)
    });
    set(ctx, g, "next", next);

    set(
        ctx,
        g,
        "pairs",
        Callback::from_fn_with(&ctx, next, |next, ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "pairs"));
            let t = a.any(&stack, 0)?;
            let mt = match t {
                Value::Table(t) => t.metatable(),
                Value::UserData(u) => u.metatable(),
                _ => None,
            };
            if let Some(mt) = mt {
                let f = mt.get(ctx, "__pairs");
                if !f.is_nil() {
                    stack.replace(ctx, t);
                    return Ok(CallbackReturn::Call {
                        function: meta_ops::call(ctx, f)?,
                        then: Some(BoxSequence::new(&ctx, Truncate(3))),
                    });
                }
            }
            stack.replace(ctx, (*next, t, Value::Nil));
            Ok(CallbackReturn::Return)
        }),
    );

    set(
        ctx,
        g,
        "load",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "load"));
            let chunk = stack.get(0);
            let name = a.opt_string(&stack, 1)?;
            let mode = a
                .opt_string(&stack, 2)?
                .map_or(b"bt".to_vec(), |m| m.as_bytes().to_vec());
            let env = match stack.get(3) {
                Value::Table(t) => t,
                // piccolo's `_ENV` must be a table: an explicit nil environment becomes an
                // empty one (listed in docs/stdlib-unsupported.md).
                Value::Nil if stack.len() >= 4 => Table::new(&ctx),
                Value::Nil => ctx.globals(),
                _ => return Err(a.arg_error(4, "table expected")),
            };
            match chunk {
                Value::String(s) => {
                    let name = name.map_or(s.as_bytes().to_vec(), |n| n.as_bytes().to_vec());
                    let result = load_chunk(ctx, s.as_bytes(), &name, &mode, env);
                    push_load_result(ctx, result, &mut stack);
                    Ok(CallbackReturn::Return)
                }
                Value::Function(reader) => {
                    let name = name.map_or(b"=(load)".to_vec(), |n| n.as_bytes().to_vec());
                    stack.clear();
                    Ok(CallbackReturn::Call {
                        function: reader,
                        then: Some(BoxSequence::new(
                            &ctx,
                            LoadReader {
                                reader,
                                env,
                                source: Vec::new(),
                                name,
                                mode,
                            },
                        )),
                    })
                }
                _ => Err(a.type_error(&stack, 0, "string")),
            }
        }),
    );

    // Warnings are off in the standalone interpreter and there is no stderr here.
    set(
        ctx,
        g,
        "warn",
        Callback::from_fn(&ctx, |ctx, exec, stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "warn"));
            for i in 0..stack.len().max(1) {
                a.string(&stack, i)?;
            }
            Ok(CallbackReturn::Return)
        }),
    );

    // The standalone lua5.4 starts in generational mode.
    let gc_mode = Rc::new(Cell::new(true));
    set(
        ctx,
        g,
        "collectgarbage",
        Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, Name::new(B, "collectgarbage"));
            let opt = a.opt_string(&stack, 0)?;
            let opt = opt.map_or(&b"collect"[..], |s| s.as_bytes());
            // A callback cannot collect (the arena is mid-mutation); the engine collects
            // between slices, so these options only answer as Lua would.
            let result: Value = match opt {
                b"collect" | b"stop" | b"restart" => 0.into(),
                b"count" => (ctx.metrics().total_allocation() as f64 / 1024.0).into(),
                b"step" => false.into(),
                b"isrunning" => true.into(),
                b"setpause" => 200.into(),
                b"setstepmul" => 100.into(),
                b"incremental" | b"generational" => {
                    let was = if gc_mode.get() {
                        "generational"
                    } else {
                        "incremental"
                    };
                    gc_mode.set(opt == b"generational");
                    ctx.intern(was.as_bytes()).into()
                }
                other => {
                    return Err(a.arg_error(
                        1,
                        format!("invalid option '{}'", String::from_utf8_lossy(other)),
                    ))
                }
            };
            stack.replace(ctx, result);
            Ok(CallbackReturn::Return)
        }),
    );
}

/// `rawset` semantics with Lua's messages for bad keys.
pub(crate) fn raw_set<'gc>(
    ctx: Context<'gc>,
    exec: &Execution<'gc, '_>,
    t: Table<'gc>,
    k: Value<'gc>,
    v: Value<'gc>,
) -> Result<(), Error<'gc>> {
    t.set_value(&ctx, k, v).map(|_| ()).map_err(|e| {
        args::error(
            ctx,
            exec,
            match e {
                piccolo::InvalidTableKey::IsNaN => "table index is NaN",
                piccolo::InvalidTableKey::IsNil => "table index is nil",
            },
        )
    })
}

/// Keeps at most N results of a call.
#[derive(Collect)]
#[collect(require_static)]
pub(crate) struct Truncate(pub usize);

impl<'gc> Sequence<'gc> for Truncate {
    fn poll(
        &mut self,
        _ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        stack.resize(self.0);
        Ok(SequencePoll::Return)
    }
}
