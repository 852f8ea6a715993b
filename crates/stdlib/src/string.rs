//! The `string` library.

use gc_arena::Collect;
use piccolo::{
    BoxSequence, Callback, CallbackReturn, Context, Error, Execution, Sequence, SequencePoll,
    Stack, String as LuaString, Table, Value,
};

use crate::args::{self, Args, Name};
use crate::base::{tostring_meta, Then, ToStrings};
use crate::pattern::{self, Capture, Matcher};
use crate::{format, num, pack};

/// Longest string `rep` will build: far below Lua's limit, but a request beyond it could
/// only exhaust the wasm module's memory.
const MAX_BUILD: usize = 256 * 1024 * 1024;

const fn n(func: &'static str) -> Name {
    Name::new("string", func)
}

/// Lua's `posrelatI`: a 1-based start index from a possibly negative one.
pub(crate) fn start_index(i: i64, len: usize) -> usize {
    let len = len as i64;
    if i > 0 {
        i as usize
    } else if i == 0 || i < -len {
        1
    } else {
        (len + i + 1) as usize
    }
}

/// Lua's `getendpos`: a 1-based end index, clipped to the string.
pub(crate) fn end_index(j: i64, len: usize) -> usize {
    let len = len as i64;
    if j > len {
        len as usize
    } else if j >= 0 {
        j as usize
    } else if j < -len {
        0
    } else {
        (len + j + 1) as usize
    }
}

fn capture_value<'gc>(ctx: Context<'gc>, src: &[u8], c: Capture) -> Value<'gc> {
    match c {
        Capture::Range(a, b) => ctx.intern(&src[a..b]).into(),
        Capture::Position(p) => Value::Integer(p as i64),
    }
}

fn push_captures<'gc>(
    ctx: Context<'gc>,
    m: &Matcher,
    src: &[u8],
    s: usize,
    e: usize,
    stack: &mut Stack<'gc, '_>,
) -> Result<(), String> {
    for c in m.captures(s, e)? {
        stack.push_back(capture_value(ctx, src, c));
    }
    Ok(())
}

fn find_aux<'gc>(
    ctx: Context<'gc>,
    exec: &Execution<'gc, '_>,
    mut stack: Stack<'gc, '_>,
    find: bool,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let a = Args::new(ctx, exec, n(if find { "find" } else { "match" }));
    let src = a.bytes(&stack, 0)?;
    let pat = a.bytes(&stack, 1)?;
    let init = start_index(a.opt_integer(&stack, 2, 1)?, src.len());
    let plain = stack.get(3).to_bool();
    stack.clear();
    if init > src.len() + 1 {
        stack.push_back(Value::Nil);
        return Ok(CallbackReturn::Return);
    }
    let init = init - 1;
    if find && (plain || !pattern::has_specials(pat)) {
        let found = if pat.is_empty() {
            Some(init)
        } else {
            src[init..]
                .windows(pat.len())
                .position(|w| w == pat)
                .map(|p| p + init)
        };
        match found {
            Some(p) => stack.replace(ctx, ((p + 1) as i64, (p + pat.len()) as i64)),
            None => stack.push_back(Value::Nil),
        }
        return Ok(CallbackReturn::Return);
    }
    let mut m = Matcher::new(src, pat);
    match pattern::find(&mut m, init).map_err(|e| a.error(e))? {
        Some((s, e)) => {
            if find {
                stack.replace(ctx, ((s + 1) as i64, e as i64));
                if m.level() > 0 {
                    push_captures(ctx, &m, src, s, e, &mut stack).map_err(|e| a.error(e))?;
                }
            } else {
                push_captures(ctx, &m, src, s, e, &mut stack).map_err(|e| a.error(e))?;
            }
        }
        None => stack.push_back(Value::Nil),
    }
    Ok(CallbackReturn::Return)
}

/// The iterator `gmatch` returns.
#[derive(Collect)]
#[collect(no_drop)]
struct GMatch<'gc> {
    src: LuaString<'gc>,
    pat: LuaString<'gc>,
}

/// `gsub` as a resumable loop: a function replacement is called once per match.
#[derive(Collect)]
#[collect(no_drop)]
struct GSub<'gc> {
    src: LuaString<'gc>,
    pat: LuaString<'gc>,
    repl: Value<'gc>,
    max: i64,
    count: i64,
    pos: usize,
    last: Option<usize>,
    #[collect(require_static)]
    out: Vec<u8>,
    anchor: bool,
    /// The match whose function replacement is running.
    pending: Option<(usize, usize)>,
}

impl<'gc> GSub<'gc> {
    fn add_replacement(
        &mut self,
        ctx: Context<'gc>,
        exec: &Execution<'gc, '_>,
        value: Value<'gc>,
        s: usize,
        e: usize,
    ) -> Result<(), Error<'gc>> {
        let a = Args::new(ctx, exec, n("gsub"));
        match value {
            Value::Nil | Value::Boolean(false) => {
                self.out.extend_from_slice(&self.src.as_bytes()[s..e]);
            }
            Value::String(r) => self.out.extend_from_slice(r.as_bytes()),
            Value::Integer(_) | Value::Number(_) => self
                .out
                .extend_from_slice(num::number_to_string(value).as_bytes()),
            other => {
                return Err(a.error(format!(
                    "invalid replacement value (a {})",
                    args::type_name(ctx, other)
                )))
            }
        }
        Ok(())
    }

    fn run(
        &mut self,
        ctx: Context<'gc>,
        exec: &Execution<'gc, '_>,
        stack: &mut Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        let a = Args::new(ctx, exec, n("gsub"));
        let src = self.src.as_bytes();
        let pat = self.pat.as_bytes();
        let p = usize::from(self.anchor);
        if let Some((s, e)) = self.pending.take() {
            self.add_replacement(ctx, exec, stack.get(0), s, e)?;
            if self.anchor {
                return Ok(self.finish(ctx, stack));
            }
        }
        let mut m = Matcher::new(src, pat);
        while self.count < self.max {
            let found = m.match_at(self.pos, p).map_err(|e| a.error(e))?;
            match found {
                Some(e) if Some(e) != self.last => {
                    let s = self.pos;
                    self.count += 1;
                    self.pos = e;
                    self.last = Some(e);
                    match self.repl {
                        Value::Function(f) => {
                            stack.clear();
                            push_captures(ctx, &m, src, s, e, stack).map_err(|e| a.error(e))?;
                            self.pending = Some((s, e));
                            return Ok(SequencePoll::Call {
                                function: f,
                                is_tail: false,
                            });
                        }
                        Value::Table(t) => {
                            let key = m.capture(0, s, e).map_err(|e| a.error(e))?;
                            let v = t.get_value(capture_value(ctx, src, key));
                            self.add_replacement(ctx, exec, v, s, e)?;
                        }
                        Value::String(r) => {
                            let r = r.as_bytes();
                            let mut i = 0;
                            while i < r.len() {
                                let c = r[i];
                                i += 1;
                                if c != b'%' {
                                    self.out.push(c);
                                    continue;
                                }
                                let d = r.get(i).copied().unwrap_or(0);
                                i += 1;
                                if d == b'%' {
                                    self.out.push(b'%');
                                } else if d.is_ascii_digit() {
                                    let cap = if d == b'0' {
                                        Capture::Range(s, e)
                                    } else {
                                        m.capture((d - b'1') as usize, s, e)
                                            .map_err(|e| a.error(e))?
                                    };
                                    match cap {
                                        Capture::Range(x, y) => {
                                            self.out.extend_from_slice(&src[x..y])
                                        }
                                        Capture::Position(p) => {
                                            self.out.extend_from_slice(p.to_string().as_bytes())
                                        }
                                    }
                                } else {
                                    return Err(a.error("invalid use of '%' in replacement string"));
                                }
                            }
                        }
                        v => {
                            let text = num::number_to_string(v);
                            self.out.extend_from_slice(text.as_bytes());
                        }
                    }
                }
                _ => {
                    if self.pos < src.len() {
                        self.out.push(src[self.pos]);
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
            }
            if self.anchor {
                break;
            }
        }
        Ok(self.finish(ctx, stack))
    }

    fn finish(&mut self, ctx: Context<'gc>, stack: &mut Stack<'gc, '_>) -> SequencePoll<'gc> {
        let src = self.src.as_bytes();
        self.out.extend_from_slice(&src[self.pos.min(src.len())..]);
        stack.replace(ctx, (ctx.intern(&self.out), self.count));
        SequencePoll::Return
    }
}

impl<'gc> Sequence<'gc> for GSub<'gc> {
    fn poll(
        &mut self,
        ctx: Context<'gc>,
        exec: Execution<'gc, '_>,
        mut stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        self.run(ctx, &exec, &mut stack)
    }
}

fn set<'gc>(
    ctx: Context<'gc>,
    t: Table<'gc>,
    name: &'static str,
    f: impl Fn(
            Context<'gc>,
            Execution<'gc, '_>,
            Stack<'gc, '_>,
        ) -> Result<CallbackReturn<'gc>, Error<'gc>>
        + 'static,
) {
    t.set(ctx, name, Callback::from_fn(&ctx, f)).unwrap();
}

fn map_bytes<'gc>(
    ctx: Context<'gc>,
    exec: Execution<'gc, '_>,
    mut stack: Stack<'gc, '_>,
    name: &'static str,
    f: impl Fn(&[u8]) -> Vec<u8>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    let s = Args::new(ctx, &exec, n(name)).bytes(&stack, 0)?;
    stack.replace(ctx, ctx.intern(&f(s)));
    Ok(CallbackReturn::Return)
}

pub(crate) fn load<'gc>(ctx: Context<'gc>) {
    let string = Table::new(&ctx);

    set(ctx, string, "len", |ctx, exec, mut stack| {
        let s = Args::new(ctx, &exec, n("len")).bytes(&stack, 0)?;
        stack.replace(ctx, s.len() as i64);
        Ok(CallbackReturn::Return)
    });

    set(ctx, string, "sub", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("sub"));
        let s = a.bytes(&stack, 0)?;
        let i = start_index(a.opt_integer(&stack, 1, 1)?, s.len());
        let j = end_index(a.opt_integer(&stack, 2, -1)?, s.len());
        let r = if i > j { &[][..] } else { &s[i - 1..j] };
        stack.replace(ctx, ctx.intern(r));
        Ok(CallbackReturn::Return)
    });

    set(ctx, string, "upper", |ctx, exec, stack| {
        map_bytes(ctx, exec, stack, "upper", |s| s.to_ascii_uppercase())
    });
    set(ctx, string, "lower", |ctx, exec, stack| {
        map_bytes(ctx, exec, stack, "lower", |s| s.to_ascii_lowercase())
    });
    set(ctx, string, "reverse", |ctx, exec, stack| {
        map_bytes(ctx, exec, stack, "reverse", |s| {
            s.iter().rev().copied().collect()
        })
    });

    set(ctx, string, "rep", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("rep"));
        let s = a.bytes(&stack, 0)?;
        let count = a.integer(&stack, 1)?;
        let sep = match stack.get(2) {
            Value::Nil => &[][..],
            _ => a.bytes(&stack, 2)?,
        };
        if count <= 0 {
            stack.replace(ctx, ctx.intern(b""));
            return Ok(CallbackReturn::Return);
        }
        let total = (s.len() + sep.len())
            .checked_mul(count as usize)
            .filter(|&t| t <= MAX_BUILD);
        if total.is_none() {
            return Err(a.error("resulting string too large"));
        }
        let mut out = Vec::with_capacity(total.unwrap_or(0));
        for k in 0..count {
            if k > 0 {
                out.extend_from_slice(sep);
            }
            out.extend_from_slice(s);
        }
        stack.replace(ctx, ctx.intern(&out));
        Ok(CallbackReturn::Return)
    });

    set(ctx, string, "byte", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("byte"));
        let s = a.bytes(&stack, 0)?;
        let i = a.opt_integer(&stack, 1, 1)?;
        let pi = start_index(i, s.len());
        let pj = end_index(a.opt_integer(&stack, 2, pi as i64)?, s.len());
        stack.clear();
        if pi <= pj {
            for &b in &s[pi - 1..pj] {
                stack.push_back(Value::Integer(b as i64));
            }
        }
        Ok(CallbackReturn::Return)
    });

    set(ctx, string, "char", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("char"));
        let mut out = Vec::with_capacity(stack.len());
        for i in 0..stack.len() {
            let c = a.integer(&stack, i)?;
            if !(0..=255).contains(&c) {
                return Err(a.arg_error(i + 1, "value out of range"));
            }
            out.push(c as u8);
        }
        stack.replace(ctx, ctx.intern(&out));
        Ok(CallbackReturn::Return)
    });

    set(ctx, string, "format", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("format"));
        let fmt = a.bytes(&stack, 0)?;
        let values: Vec<Value> = stack.drain(..).collect();
        let targets: Vec<usize> = format::string_args(fmt)
            .into_iter()
            .filter(|&i| i < values.len() && tostring_meta(ctx, values[i]).is_some())
            .rev()
            .collect();
        fn apply<'gc>(
            ctx: Context<'gc>,
            exec: &Execution<'gc, '_>,
            values: &[Value<'gc>],
            stack: &mut Stack<'gc, '_>,
        ) -> Result<(), Error<'gc>> {
            let out = format::format(ctx, exec, values)?;
            stack.replace(ctx, ctx.intern(&out));
            Ok(())
        }
        ToStrings::start(ctx, &exec, values, targets, Then::Apply(apply), &mut stack)
    });

    set(ctx, string, "find", |ctx, exec, stack| {
        find_aux(ctx, &exec, stack, true)
    });
    set(ctx, string, "match", |ctx, exec, stack| {
        find_aux(ctx, &exec, stack, false)
    });

    set(ctx, string, "gmatch", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("gmatch"));
        let src = a.string(&stack, 0)?;
        let pat = a.string(&stack, 1)?;
        let len = src.as_bytes().len();
        let init = start_index(a.opt_integer(&stack, 2, 1)?, len);
        // Past the end, the iterator finds nothing (Lua sets the start to len + 1).
        let start = (init - 1).min(len + 1);
        let state = std::rc::Rc::new(std::cell::Cell::new((start, usize::MAX)));
        let iter =
            Callback::from_fn_with(&ctx, GMatch { src, pat }, move |g, ctx, exec, mut stack| {
                let src = g.src.as_bytes();
                let mut m = Matcher::new(src, g.pat.as_bytes());
                let (mut pos, last) = state.get();
                stack.clear();
                while pos <= src.len() {
                    let found = m.match_at(pos, 0).map_err(|e| args::error(ctx, &exec, e))?;
                    if let Some(e) = found {
                        if e != last {
                            state.set((e, e));
                            push_captures(ctx, &m, src, pos, e, &mut stack)
                                .map_err(|e| args::error(ctx, &exec, e))?;
                            return Ok(CallbackReturn::Return);
                        }
                    }
                    pos += 1;
                }
                state.set((pos, last));
                Ok(CallbackReturn::Return)
            });
        stack.replace(ctx, iter);
        Ok(CallbackReturn::Return)
    });

    set(ctx, string, "gsub", |ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("gsub"));
        let src = a.string(&stack, 0)?;
        let pat = a.string(&stack, 1)?;
        let repl = match stack.get(2) {
            v @ (Value::String(_) | Value::Table(_) | Value::Function(_)) => v,
            v @ (Value::Integer(_) | Value::Number(_)) => {
                ctx.intern(num::number_to_string(v).as_bytes()).into()
            }
            _ => return Err(a.type_error(&stack, 2, "string/function/table")),
        };
        let max = match stack.get(3) {
            Value::Nil => i64::MAX,
            _ => a.integer(&stack, 3)?,
        };
        let anchor = pat.as_bytes().first() == Some(&b'^');
        let mut seq = GSub {
            src,
            pat,
            repl,
            max,
            count: 0,
            pos: 0,
            last: None,
            out: Vec::new(),
            anchor,
            pending: None,
        };
        match seq.run(ctx, &exec, &mut stack)? {
            SequencePoll::Call { function, .. } => Ok(CallbackReturn::Call {
                function,
                then: Some(BoxSequence::new(&ctx, seq)),
            }),
            _ => Ok(CallbackReturn::Return),
        }
    });

    pack::load(ctx, string);

    ctx.set_global("string", string).unwrap();
}
