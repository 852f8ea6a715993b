//! The `table` library.
//!
//! Plain tables (no `__index`, `__newindex` or `__len`) are handled in Rust with raw access.
//! Tables with those metamethods (external tables among them) go to small Lua chunks in
//! `src/lua/`, so every read, write and length goes through the metamethods as in Lua 5.4.
//! Their errors carry a `\x01` marker that [`Locate`] replaces with the caller's position.

use gc_arena::Collect;
use piccolo::{
    BoxSequence, Callback, CallbackReturn, Context, Error, Execution, Function, Sequence,
    SequencePoll, Stack, Table, Value,
};

use crate::args::{self, Args, Name};
use crate::base::error_value;
use crate::num;

const fn n(func: &'static str) -> Name {
    Name::new("table", func)
}

/// Whether `t` can be handled with raw access.
fn is_plain<'gc>(ctx: Context<'gc>, t: Table<'gc>) -> bool {
    match t.metatable() {
        None => true,
        Some(mt) => ["__index", "__newindex", "__len"]
            .iter()
            .all(|k| mt.get(ctx, *k).is_nil()),
    }
}

/// Replaces the `\x01` marker at the start of a fallback chunk's error message with the
/// position of the Lua code that called the library function.
#[derive(Collect)]
#[collect(require_static)]
struct Locate(String);

impl<'gc> Sequence<'gc> for Locate {
    fn poll(
        &mut self,
        _ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        _stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        Ok(SequencePoll::Return)
    }

    fn error(
        &mut self,
        ctx: Context<'gc>,
        _exec: Execution<'gc, '_>,
        error: Error<'gc>,
        _stack: Stack<'gc, '_>,
    ) -> Result<SequencePoll<'gc>, Error<'gc>> {
        if let Value::String(s) = error_value(ctx, error.clone()) {
            if let Some(rest) = s.as_bytes().strip_prefix(b"\x01") {
                let mut msg = self.0.clone().into_bytes();
                // Without a Lua caller, Lua names the function by its qualified name.
                match rest.strip_prefix(b"bad argument #".as_slice()) {
                    Some(tail) if self.0.is_empty() && tail.len() > 6 => {
                        let cut = tail.iter().position(|&b| b == b'\'').map_or(0, |p| p + 1);
                        msg.extend_from_slice(b"bad argument #");
                        msg.extend_from_slice(&tail[..cut]);
                        msg.extend_from_slice(b"table.");
                        msg.extend_from_slice(&tail[cut..]);
                    }
                    _ => msg.extend_from_slice(rest),
                }
                return Err(args::plain_error(ctx, msg));
            }
        }
        Err(error)
    }
}

fn fallback<'gc>(
    ctx: Context<'gc>,
    exec: &Execution<'gc, '_>,
    f: Function<'gc>,
    stack: &mut Stack<'gc, '_>,
    values: impl IntoIterator<Item = Value<'gc>>,
) -> Result<CallbackReturn<'gc>, Error<'gc>> {
    stack.clear();
    stack.extend(values);
    Ok(CallbackReturn::Call {
        function: f,
        then: Some(BoxSequence::new(&ctx, Locate(args::position(exec)))),
    })
}

/// The table argument of a function that reads (and maybe writes) it: a table, or a value
/// whose metatable provides the needed fields (`checktab` in ltablib.c).
fn check_tab<'gc>(
    a: &Args<'gc, '_, '_>,
    stack: &Stack<'gc, '_>,
    i: usize,
) -> Result<Table<'gc>, Error<'gc>> {
    a.table(stack, i)
}

/// Sorts `v` with Lua 5.4's quicksort, so ties land where they do in Lua.
fn lua_sort<T: Copy>(
    v: &mut [T],
    lt: &dyn Fn(T, T) -> Result<bool, ()>,
) -> Result<(), &'static str> {
    const INVALID: &str = "invalid order function for sorting";
    fn aux<T: Copy>(
        a: &mut [T],
        mut lo: usize,
        mut up: usize,
        lt: &dyn Fn(T, T) -> Result<bool, ()>,
    ) -> Result<(), &'static str> {
        let cmp = |x: T, y: T| lt(x, y).map_err(|_| "attempt to compare");
        while lo < up {
            if cmp(a[up], a[lo])? {
                a.swap(lo, up);
            }
            if up - lo == 1 {
                return Ok(());
            }
            let p = (lo + up) / 2;
            if cmp(a[p], a[lo])? {
                a.swap(p, lo);
            } else if cmp(a[up], a[p])? {
                a.swap(p, up);
            }
            if up - lo == 2 {
                return Ok(());
            }
            let pivot = a[p];
            a.swap(p, up - 1);
            let (mut i, mut j) = (lo, up - 1);
            loop {
                i += 1;
                while cmp(a[i], pivot)? {
                    if i == up - 1 {
                        return Err(INVALID);
                    }
                    i += 1;
                }
                j -= 1;
                while cmp(pivot, a[j])? {
                    if j < i || j == 0 {
                        return Err(INVALID);
                    }
                    j -= 1;
                }
                if j < i {
                    break;
                }
                a.swap(i, j);
            }
            a.swap(up - 1, i);
            if i - lo < up - i {
                if i > 0 {
                    aux(a, lo, i - 1, lt)?;
                }
                lo = i + 1;
            } else {
                aux(a, i + 1, up, lt)?;
                if i == 0 {
                    return Ok(());
                }
                up = i - 1;
            }
        }
        Ok(())
    }
    if v.len() > 1 {
        aux(v, 0, v.len() - 1, lt)?;
    }
    Ok(())
}

fn compile<'gc>(ctx: Context<'gc>, env: Table<'gc>, name: &str, src: &str) -> Function<'gc> {
    let closure = crate::compile(ctx, format!("={name}").as_bytes(), src.as_bytes(), env)
        .expect("library chunk compiles");
    Function::Closure(closure)
}

#[derive(Collect, Clone, Copy)]
#[collect(no_drop)]
struct Fallbacks<'gc> {
    insert: Function<'gc>,
    remove: Function<'gc>,
    concat: Function<'gc>,
    unpack: Function<'gc>,
    sort: Function<'gc>,
    tmove: Function<'gc>,
}

pub(crate) fn load<'gc>(ctx: Context<'gc>) {
    let table = Table::new(&ctx);
    let env = Table::new(&ctx);
    for name in ["error", "type", "tostring"] {
        env.set(ctx, name, ctx.get_global(name)).unwrap();
    }
    let string = ctx.get_global("string");
    if let Value::Table(s) = string {
        env.set(ctx, "format", s.get(ctx, "format")).unwrap();
    }

    let fb = Fallbacks {
        insert: compile(
            ctx,
            env,
            "table.insert",
            include_str!("lua/table_insert.lua"),
        ),
        remove: compile(
            ctx,
            env,
            "table.remove",
            include_str!("lua/table_remove.lua"),
        ),
        concat: compile(
            ctx,
            env,
            "table.concat",
            include_str!("lua/table_concat.lua"),
        ),
        unpack: compile(
            ctx,
            env,
            "table.unpack",
            include_str!("lua/table_unpack.lua"),
        ),
        sort: compile(ctx, env, "table.sort", include_str!("lua/table_sort.lua")),
        tmove: compile(ctx, env, "table.move", include_str!("lua/table_move.lua")),
    };

    let insert = Callback::from_fn_with(&ctx, fb, |fb, ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("insert"));
        let t = check_tab(&a, &stack, 0)?;
        let nargs = stack.len();
        if nargs != 2 && nargs != 3 {
            return Err(a.error("wrong number of arguments to 'insert'"));
        }
        if nargs == 3 {
            a.integer(&stack, 1)?;
        }
        if !is_plain(ctx, t) {
            let (p, v) = (stack.get(1), stack.get(2));
            return fallback(
                ctx,
                &exec,
                fb.insert,
                &mut stack,
                [t.into(), (nargs as i64).into(), p, v],
            );
        }
        let e = t.length().wrapping_add(1);
        if nargs == 2 {
            t.set_value(&ctx, e.into(), stack.get(1)).unwrap();
        } else {
            let pos = a.integer(&stack, 1)?;
            if (pos as u64).wrapping_sub(1) >= e as u64 {
                return Err(a.arg_error(2, "position out of bounds"));
            }
            let mut i = e;
            while i > pos {
                let v = t.get_value((i - 1).into());
                t.set_value(&ctx, i.into(), v).unwrap();
                i -= 1;
            }
            t.set_value(&ctx, pos.into(), stack.get(2)).unwrap();
        }
        stack.clear();
        Ok(CallbackReturn::Return)
    });
    table.set(ctx, "insert", insert).unwrap();

    let remove = Callback::from_fn_with(&ctx, fb, |fb, ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("remove"));
        let t = check_tab(&a, &stack, 0)?;
        if !is_plain(ctx, t) {
            if !stack.get(1).is_nil() {
                a.integer(&stack, 1)?;
            }
            let p = stack.get(1);
            return fallback(ctx, &exec, fb.remove, &mut stack, [t.into(), p]);
        }
        let size = t.length();
        let mut pos = a.opt_integer(&stack, 1, size)?;
        if pos != size && (pos as u64).wrapping_sub(1) > size as u64 {
            // Lua 5.4.4 names argument 1 here.
            return Err(a.arg_error(1, "position out of bounds"));
        }
        let result = t.get_value(pos.into());
        while pos < size {
            let v = t.get_value((pos + 1).into());
            t.set_value(&ctx, pos.into(), v).unwrap();
            pos += 1;
        }
        t.set_value(&ctx, pos.into(), Value::Nil).unwrap();
        stack.replace(ctx, result);
        Ok(CallbackReturn::Return)
    });
    table.set(ctx, "remove", remove).unwrap();

    let concat = Callback::from_fn_with(&ctx, fb, |fb, ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("concat"));
        let t = check_tab(&a, &stack, 0)?;
        let sep = match stack.get(1) {
            Value::Nil => ctx.intern(b""),
            _ => a.string(&stack, 1)?,
        };
        let i = a.opt_integer(&stack, 2, 1)?;
        if !is_plain(ctx, t) {
            let j = match stack.get(3) {
                Value::Nil => Value::Nil,
                _ => a.integer(&stack, 3)?.into(),
            };
            return fallback(
                ctx,
                &exec,
                fb.concat,
                &mut stack,
                [t.into(), sep.into(), i.into(), j],
            );
        }
        let last = a.opt_integer(&stack, 3, t.length())?;
        let mut out = Vec::new();
        let mut k = i;
        while k <= last {
            match t.get_value(k.into()) {
                Value::String(s) => out.extend_from_slice(s.as_bytes()),
                v @ (Value::Integer(_) | Value::Number(_)) => {
                    out.extend_from_slice(num::number_to_string(v).as_bytes())
                }
                v => {
                    return Err(a.error(format!(
                        "invalid value ({}) at index {k} in table for 'concat'",
                        args::type_name(ctx, v)
                    )))
                }
            }
            if k < last {
                out.extend_from_slice(sep.as_bytes());
            }
            if k == i64::MAX {
                break;
            }
            k += 1;
        }
        stack.replace(ctx, ctx.intern(&out));
        Ok(CallbackReturn::Return)
    });
    table.set(ctx, "concat", concat).unwrap();
    env.set(ctx, "plain_concat", concat).unwrap();

    let unpack = Callback::from_fn_with(&ctx, fb, |fb, ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("unpack"));
        let i = a.opt_integer(&stack, 1, 1)?;
        let t = match stack.get(0) {
            Value::Table(t) if is_plain(ctx, t) => t,
            Value::Table(t) => {
                let e = match stack.get(2) {
                    Value::Nil => Value::Nil,
                    _ => a.integer(&stack, 2)?.into(),
                };
                return fallback(ctx, &exec, fb.unpack, &mut stack, [t.into(), i.into(), e]);
            }
            _ => return Err(a.type_error(&stack, 0, "table")),
        };
        let e = a.opt_integer(&stack, 2, t.length())?;
        stack.clear();
        if i > e {
            return Ok(CallbackReturn::Return);
        }
        let count = (e as i128 - i as i128) + 1;
        if count >= 1_000_000 {
            return Err(a.error("too many results to unpack"));
        }
        for k in i..=e {
            stack.push_back(t.get_value(k.into()));
        }
        Ok(CallbackReturn::Return)
    });
    table.set(ctx, "unpack", unpack).unwrap();
    env.set(ctx, "plain_unpack", unpack).unwrap();

    table
        .set(
            ctx,
            "pack",
            Callback::from_fn(&ctx, |ctx, _, mut stack| {
                let t = Table::new(&ctx);
                let count = stack.len();
                for (i, v) in stack.drain(..).enumerate() {
                    t.set_value(&ctx, (i as i64 + 1).into(), v).unwrap();
                }
                t.set(ctx, "n", count as i64).unwrap();
                stack.replace(ctx, t);
                Ok(CallbackReturn::Return)
            }),
        )
        .unwrap();

    let tmove = Callback::from_fn_with(&ctx, fb, |fb, ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("move"));
        let f = a.integer(&stack, 1)?;
        let e = a.integer(&stack, 2)?;
        let t = a.integer(&stack, 3)?;
        let a1 = check_tab(&a, &stack, 0)?;
        let a2 = if stack.get(4).is_nil() {
            a1
        } else {
            check_tab(&a, &stack, 4)?
        };
        if e >= f {
            if !(f > 0 || e < i64::MAX + f) {
                return Err(a.arg_error(3, "too many elements to move"));
            }
            let count = e - f + 1;
            if t > i64::MAX - count + 1 {
                return Err(a.arg_error(4, "destination wrap around"));
            }
            if !is_plain(ctx, a1) || !is_plain(ctx, a2) {
                return fallback(
                    ctx,
                    &exec,
                    fb.tmove,
                    &mut stack,
                    [a1.into(), f.into(), e.into(), t.into(), a2.into()],
                );
            }
            if t > e || t <= f || a1 != a2 {
                for i in 0..count {
                    let v = a1.get_value((f + i).into());
                    a2.set_value(&ctx, (t + i).into(), v).unwrap();
                }
            } else {
                for i in (0..count).rev() {
                    let v = a1.get_value((f + i).into());
                    a2.set_value(&ctx, (t + i).into(), v).unwrap();
                }
            }
        }
        stack.replace(ctx, a2);
        Ok(CallbackReturn::Return)
    });
    table.set(ctx, "move", tmove).unwrap();

    let sort = Callback::from_fn_with(&ctx, fb, |fb, ctx, exec, mut stack| {
        let a = Args::new(ctx, &exec, n("sort"));
        let t = check_tab(&a, &stack, 0)?;
        let cmp = stack.get(1);
        if !cmp.is_nil() && !matches!(cmp, Value::Function(_)) {
            return Err(a.type_error(&stack, 1, "function"));
        }
        if !cmp.is_nil() || !is_plain(ctx, t) {
            return fallback(ctx, &exec, fb.sort, &mut stack, [t.into(), cmp]);
        }
        let len = t.length();
        if len < 2 {
            stack.clear();
            return Ok(CallbackReturn::Return);
        }
        let values: Vec<Value> = (1..=len).map(|i| t.get_value(i.into())).collect();
        let all_numbers = values
            .iter()
            .all(|v| matches!(v, Value::Integer(_) | Value::Number(_)));
        let all_strings = values.iter().all(|v| matches!(v, Value::String(_)));
        if !all_numbers && !all_strings {
            // Mixed or non-comparable values: let Lua's `<` decide (and raise its errors).
            return fallback(ctx, &exec, fb.sort, &mut stack, [t.into(), cmp]);
        }
        let mut values = values;
        let result = lua_sort(&mut values, &|x: Value, y: Value| {
            Ok(match (x, y) {
                (Value::String(x), Value::String(y)) => x.as_bytes() < y.as_bytes(),
                (Value::Integer(x), Value::Integer(y)) => x < y,
                (x, y) => num_lt(x, y),
            })
        });
        if let Err(msg) = result {
            return Err(a.error(msg));
        }
        for (i, v) in values.into_iter().enumerate() {
            t.set_value(&ctx, (i as i64 + 1).into(), v).unwrap();
        }
        stack.clear();
        Ok(CallbackReturn::Return)
    });
    table.set(ctx, "sort", sort).unwrap();

    ctx.set_global("table", table).unwrap();
}

/// `<` between two numbers of any subtype, exact as in Lua.
pub(crate) fn num_lt(x: Value, y: Value) -> bool {
    match (x, y) {
        (Value::Integer(a), Value::Integer(b)) => a < b,
        (Value::Number(a), Value::Number(b)) => a < b,
        (Value::Integer(a), Value::Number(b)) => int_lt_float(a, b),
        (Value::Number(a), Value::Integer(b)) => float_lt_int(a, b),
        _ => false,
    }
}

fn int_lt_float(i: i64, f: f64) -> bool {
    if f.is_nan() {
        return false;
    }
    if f >= 9223372036854775808.0 {
        return true;
    }
    if f < -9223372036854775808.0 {
        return false;
    }
    // i < f  <=>  i < ceil(f) when f is in range
    i < f.ceil() as i64
}

fn float_lt_int(f: f64, i: i64) -> bool {
    if f.is_nan() {
        return false;
    }
    if f >= 9223372036854775808.0 {
        return false;
    }
    if f < -9223372036854775808.0 {
        return true;
    }
    (f.floor() as i64) < i
}
