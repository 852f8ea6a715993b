//! The `math` library with Lua 5.4's integer/float rules and its xoshiro256** generator
//! (seeded exactly as `math.randomseed` seeds it, so seeded sequences match lua5.4).

use std::{cell::Cell, rc::Rc};

use piccolo::{Callback, CallbackReturn, Context, Error, Execution, Stack, Table, Value};

use crate::args::{Args, Name};
use crate::num::{self, Num};
use crate::Platform;

const fn n(func: &'static str) -> Name {
    Name::new("math", func)
}

/// xoshiro256** state, as in lmathlib.c.
#[derive(Clone, Copy)]
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn seeded(n1: u64, n2: u64) -> Self {
        let mut x = Xoshiro([n1, 0xff, n2, 0]);
        for _ in 0..16 {
            x.next();
        }
        x
    }

    /// A value in `[0, n]`, without bias (`project` in Lua 5.4.4+).
    fn project(&mut self, mut ran: u64, n: u64) -> u64 {
        if n & n.wrapping_add(1) == 0 {
            return ran & n;
        }
        let mut lim = n;
        lim |= lim >> 1;
        lim |= lim >> 2;
        lim |= lim >> 4;
        lim |= lim >> 8;
        lim |= lim >> 16;
        lim |= lim >> 32;
        loop {
            ran &= lim;
            if ran <= n {
                return ran;
            }
            ran = self.next();
        }
    }
}

/// A float result that is an integer if it fits (`pushnumint`).
fn int_or_float<'gc>(f: f64) -> Value<'gc> {
    match num::float_to_integer(f) {
        Some(i) => Value::Integer(i),
        None => Value::Number(f),
    }
}

type MathFn = for<'gc> fn(&Args<'gc, '_, '_>, &Stack<'gc, '_>) -> Result<Value<'gc>, Error<'gc>>;

fn reg<'gc>(ctx: Context<'gc>, math: Table<'gc>, name: &'static str, f: MathFn) {
    let cb = Callback::from_fn(&ctx, move |ctx, exec: Execution, mut stack| {
        let a = Args::new(ctx, &exec, n(name));
        let v = f(&a, &stack)?;
        stack.replace(ctx, v);
        Ok(CallbackReturn::Return)
    });
    math.set(ctx, name, cb).unwrap();
}

fn float1(name: &'static str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "sqrt" => f64::sqrt,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "exp" => f64::exp,
        _ => return None,
    })
}

fn min_max<'gc>(
    a: &Args<'gc, '_, '_>,
    stack: &Stack<'gc, '_>,
    want_max: bool,
) -> Result<Value<'gc>, Error<'gc>> {
    let count = stack.len();
    if count == 0 {
        return Err(a.arg_error(1, "value expected"));
    }
    let mut best = stack.get(0);
    for i in 1..count {
        a.number(stack, i)?;
        let v = stack.get(i);
        let less = crate::table_lt(best, v);
        let greater = crate::table_lt(v, best);
        if (want_max && less) || (!want_max && greater) {
            best = v;
        }
    }
    Ok(best)
}

pub(crate) fn load<'gc>(ctx: Context<'gc>, platform: Rc<dyn Platform>) {
    let math = Table::new(&ctx);
    math.set(ctx, "pi", std::f64::consts::PI).unwrap();
    math.set(ctx, "huge", f64::INFINITY).unwrap();
    math.set(ctx, "maxinteger", i64::MAX).unwrap();
    math.set(ctx, "mininteger", i64::MIN).unwrap();

    for name in ["sqrt", "sin", "cos", "tan", "asin", "acos", "exp"] {
        let f = float1(name).unwrap();
        let cb = Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
            let x = Args::new(ctx, &exec, n(name)).number(&stack, 0)?;
            stack.replace(ctx, f(x));
            Ok(CallbackReturn::Return)
        });
        math.set(ctx, name, cb).unwrap();
    }

    reg(ctx, math, "abs", |a, s| {
        a.number(s, 0)?;
        Ok(match num::to_num(s.get(0)).unwrap() {
            Num::Int(i) => Value::Integer(i.wrapping_abs()),
            Num::Float(f) => Value::Number(f.abs()),
        })
    });
    reg(ctx, math, "floor", |a, s| {
        a.number(s, 0)?;
        Ok(match num::to_num(s.get(0)).unwrap() {
            Num::Int(i) => Value::Integer(i),
            Num::Float(f) => int_or_float(f.floor()),
        })
    });
    reg(ctx, math, "ceil", |a, s| {
        a.number(s, 0)?;
        Ok(match num::to_num(s.get(0)).unwrap() {
            Num::Int(i) => Value::Integer(i),
            Num::Float(f) => int_or_float(f.ceil()),
        })
    });
    reg(ctx, math, "atan", |a, s| {
        let y = a.number(s, 0)?;
        let x = if s.get(1).is_nil() {
            1.0
        } else {
            a.number(s, 1)?
        };
        Ok(Value::Number(y.atan2(x)))
    });
    reg(ctx, math, "log", |a, s| {
        let x = a.number(s, 0)?;
        Ok(Value::Number(if s.get(1).is_nil() {
            x.ln()
        } else {
            let b = a.number(s, 1)?;
            if b == 2.0 {
                x.log2()
            } else if b == 10.0 {
                x.log10()
            } else {
                x.ln() / b.ln()
            }
        }))
    });
    reg(ctx, math, "fmod", |a, s| {
        a.number(s, 0)?;
        a.number(s, 1)?;
        match (
            num::to_num(s.get(0)).unwrap(),
            num::to_num(s.get(1)).unwrap(),
        ) {
            (Num::Int(x), Num::Int(y)) => {
                if y == 0 {
                    return Err(a.arg_error(2, "zero"));
                }
                Ok(Value::Integer(if y == -1 { 0 } else { x % y }))
            }
            (x, y) => Ok(Value::Number(x.to_f64() % y.to_f64())),
        }
    });
    math.set(
        ctx,
        "modf",
        Callback::from_fn(&ctx, |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("modf"));
            a.number(&stack, 0)?;
            match num::to_num(stack.get(0)).unwrap() {
                Num::Int(i) => stack.replace(ctx, (Value::Integer(i), 0.0)),
                Num::Float(f) => {
                    let ip = if f < 0.0 { f.ceil() } else { f.floor() };
                    let frac = if f == ip { 0.0 } else { f - ip };
                    stack.replace(ctx, (int_or_float(ip), frac));
                }
            }
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();
    reg(ctx, math, "tointeger", |a, s| {
        let v = a.any(s, 0)?;
        Ok(match v {
            Value::Integer(_) => v,
            Value::Number(f) => num::float_to_integer(f).map_or(Value::Nil, Value::Integer),
            Value::String(_) => num::to_integer_strict(v).map_or(Value::Nil, Value::Integer),
            _ => Value::Nil,
        })
    });
    reg(ctx, math, "type", |a, s| {
        let v = a.any(s, 0)?;
        Ok(match v {
            Value::Integer(_) => a.ctx.intern(b"integer").into(),
            Value::Number(_) => a.ctx.intern(b"float").into(),
            _ => Value::Nil,
        })
    });
    reg(ctx, math, "ult", |a, s| {
        let x = a.integer(s, 0)?;
        let y = a.integer(s, 1)?;
        Ok(Value::Boolean((x as u64) < (y as u64)))
    });
    reg(ctx, math, "deg", |a, s| {
        Ok(Value::Number(a.number(s, 0)?.to_degrees()))
    });
    reg(ctx, math, "rad", |a, s| {
        Ok(Value::Number(a.number(s, 0)?.to_radians()))
    });
    reg(ctx, math, "max", |a, s| min_max(a, s, true));
    reg(ctx, math, "min", |a, s| min_max(a, s, false));

    let mut seed = [0u8; 16];
    platform.fill_random(&mut seed);
    let n1 = u64::from_le_bytes(seed[..8].try_into().unwrap());
    let n2 = u64::from_le_bytes(seed[8..].try_into().unwrap());
    let state = Rc::new(Cell::new(Xoshiro::seeded(n1, n2)));

    let st = state.clone();
    math.set(
        ctx,
        "random",
        Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("random"));
            let mut g = st.get();
            let rv = g.next();
            let (low, up) = match stack.len() {
                0 => {
                    st.set(g);
                    stack.replace(ctx, (rv >> 11) as f64 * (0.5f64).powi(53));
                    return Ok(CallbackReturn::Return);
                }
                1 => {
                    let up = a.integer(&stack, 0)?;
                    if up == 0 {
                        st.set(g);
                        stack.replace(ctx, rv as i64);
                        return Ok(CallbackReturn::Return);
                    }
                    (1, up)
                }
                2 => (a.integer(&stack, 0)?, a.integer(&stack, 1)?),
                _ => return Err(a.error("wrong number of arguments")),
            };
            if low > up {
                return Err(a.arg_error(1, "interval is empty"));
            }
            let p = g.project(rv, (up as u64).wrapping_sub(low as u64));
            st.set(g);
            stack.replace(ctx, p.wrapping_add(low as u64) as i64);
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();

    math.set(
        ctx,
        "randomseed",
        Callback::from_fn(&ctx, move |ctx, exec, mut stack| {
            let a = Args::new(ctx, &exec, n("randomseed"));
            let (n1, n2) = if stack.is_empty() {
                let mut seed = [0u8; 16];
                platform.fill_random(&mut seed);
                (
                    i64::from_le_bytes(seed[..8].try_into().unwrap()),
                    i64::from_le_bytes(seed[8..].try_into().unwrap()),
                )
            } else {
                (a.integer(&stack, 0)?, a.opt_integer(&stack, 1, 0)?)
            };
            state.set(Xoshiro::seeded(n1 as u64, n2 as u64));
            stack.replace(ctx, (n1, n2));
            Ok(CallbackReturn::Return)
        }),
    )
    .unwrap();

    ctx.set_global("math", math).unwrap();
}
