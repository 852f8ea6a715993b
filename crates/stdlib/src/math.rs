//! The `math` library with Lua 5.4's integer/float rules and its xoshiro256** generator,
//! seeded as `math.randomseed` seeds it, so seeded sequences are lua5.4's.

use alloc::boxed::Box;
use core::cell::Cell;

use vm::function::NativeClosure;
use vm::lib::{
    bug, compare_error, metamethod, primitive_order, to_number, Action, Error, MetaEvent,
    NativeCall, NativeFn, Outcome,
};
use vm::number::{float_to_int, nan_like_x86, Number};
use vm::state::Ctx;
use vm::userdata::UserData;
use vm::value::Value;

use super::access::{self, result_of};
use super::{register_lib, set_field, set_fns};

type R<'gc> = Result<Action<'gc>, Error<'gc>>;

/// Registers `math` (with Debian's compatibility functions) and seeds its generator from
/// the host.
pub fn open(ctx: Ctx<'_>) {
    let math = register_lib(
        ctx,
        "math",
        &[
            ("abs", abs),
            ("acos", acos),
            ("asin", asin),
            ("atan", atan),
            ("ceil", ceil),
            ("cos", cos),
            ("deg", deg),
            ("exp", exp),
            ("floor", floor),
            ("fmod", fmod),
            ("log", log),
            ("max", max),
            ("min", min),
            ("modf", modf),
            ("rad", rad),
            ("sin", sin),
            ("sqrt", sqrt),
            ("tan", tan),
            ("tointeger", tointeger),
            ("type", type_),
            ("ult", ult),
        ],
    );
    // Debian builds lua5.4 with LUA_COMPAT_MATHLIB; the reference we match has these too.
    set_fns(
        ctx,
        math,
        &[
            ("cosh", cosh),
            ("frexp", frexp),
            ("ldexp", ldexp),
            ("log10", log10),
            ("pow", pow),
            ("sinh", sinh),
            ("tanh", tanh),
        ],
    );
    let atan = math.get_str(ctx.intern(b"atan"));
    set_field(ctx, math, b"atan2", atan);
    let constants: [(&[u8], Value<'_>); 4] = [
        (b"pi", Value::Float(core::f64::consts::PI)),
        (b"huge", Value::Float(f64::INFINITY)),
        (b"maxinteger", Value::Integer(i64::MAX)),
        (b"mininteger", Value::Integer(i64::MIN)),
    ];
    for (name, v) in constants {
        set_field(ctx, math, name, v);
    }
    // The generator's state is shared by `random` and `randomseed`.
    let seed = host_seed(ctx);
    let state = UserData::new(ctx.mc, Box::new(Cell::new(Xoshiro::seeded(seed.0, seed.1))));
    for (name, f) in [("random", random as NativeFn), ("randomseed", randomseed)] {
        let closure =
            NativeClosure::with_upvals(ctx.mc, name, f, Box::new([Value::UserData(state)]));
        set_field(ctx, math, name.as_bytes(), Value::from(closure));
    }
}

/// A float result with x86's NaN sign, as the reference prints it (`-nan`).
fn float_result<'gc>(r: f64, x: f64) -> Value<'gc> {
    Value::Float(nan_like_x86(r, x, x))
}

/// Defines a native applying a float function to its number argument.
macro_rules! float_fn {
    ($name:ident, $f:expr) => {
        fn $name<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
            let x = call.check_number(ctx, 0)?;
            call.ret1(float_result($f(x), x))
        }
    };
}

float_fn!(sqrt, libm::sqrt);
float_fn!(sin, libm::sin);
float_fn!(cos, libm::cos);
float_fn!(tan, libm::tan);
float_fn!(asin, libm::asin);
float_fn!(acos, libm::acos);
float_fn!(exp, libm::exp);
float_fn!(cosh, libm::cosh);
float_fn!(sinh, libm::sinh);
float_fn!(tanh, libm::tanh);
float_fn!(log10, libm::log10);
float_fn!(deg, |x: f64| x * (180.0 / core::f64::consts::PI));
float_fn!(rad, |x: f64| x * (core::f64::consts::PI / 180.0));

fn atan<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let y = call.check_number(ctx, 0)?;
    let x = call.opt_number(ctx, 1, 1.0)?;
    call.ret1(Value::Float(nan_like_x86(libm::atan2(y, x), y, x)))
}

fn pow<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let x = call.check_number(ctx, 0)?;
    let y = call.check_number(ctx, 1)?;
    call.ret1(Value::Float(nan_like_x86(libm::pow(x, y), x, y)))
}

fn frexp<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (m, e) = libm::frexp(call.check_number(ctx, 0)?);
    call.ret(&[Value::Float(m), Value::Integer(e as i64)])
}

fn ldexp<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let x = call.check_number(ctx, 0)?;
    // The exponent is converted to a C int, keeping its low 32 bits.
    let e = call.check_integer(ctx, 1)? as i32;
    call.ret1(Value::from(libm::ldexp(x, e)))
}

fn log<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let x = call.check_number(ctx, 0)?;
    let r = if call.arg(1).is_nil() {
        libm::log(x)
    } else {
        match call.check_number(ctx, 1)? {
            2.0 => libm::log2(x),
            10.0 => libm::log10(x),
            base => libm::log(x) / libm::log(base),
        }
    };
    call.ret1(float_result(r, x))
}

/// A float that is an integer value is returned as an integer (`pushnumint`).
fn int_if_exact<'gc>(f: f64) -> Value<'gc> {
    match float_to_int(f) {
        Some(i) => Value::Integer(i),
        None => Value::Float(f),
    }
}

/// Integers keep their subtype; anything else (numeric strings too) becomes a float.
fn abs<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match call.arg(0) {
        Value::Integer(i) => call.ret1(Value::from(i.wrapping_abs())),
        _ => {
            let x = call.check_number(ctx, 0)?;
            call.ret1(Value::from(x.abs()))
        }
    }
}

fn floor<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match call.arg(0) {
        Value::Integer(i) => call.ret1(Value::from(i)),
        _ => {
            let x = call.check_number(ctx, 0)?;
            call.ret1(int_if_exact(libm::floor(x)))
        }
    }
}

fn ceil<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    match call.arg(0) {
        Value::Integer(i) => call.ret1(Value::from(i)),
        _ => {
            let x = call.check_number(ctx, 0)?;
            call.ret1(int_if_exact(libm::ceil(x)))
        }
    }
}

fn fmod<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if let (Value::Integer(a), Value::Integer(b)) = (call.arg(0), call.arg(1)) {
        return match b {
            0 => Err(Error::bad_arg(2, "zero")),
            // -1 would overflow for the most negative integer; the remainder is 0.
            -1 => call.ret1(Value::from(0i64)),
            _ => call.ret1(Value::from(a % b)),
        };
    }
    // lua5.4 (built by gcc) checks the second argument first.
    let b = call.check_number(ctx, 1)?;
    let a = call.check_number(ctx, 0)?;
    call.ret1(Value::Float(nan_like_x86(vm::number::fmod(a, b), a, b)))
}

fn modf<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    if let Value::Integer(i) = call.arg(0) {
        return call.ret(&[Value::Integer(i), Value::Float(0.0)]);
    }
    let x = call.check_number(ctx, 0)?;
    // The integral part rounds toward zero; infinities have no fractional part.
    let int_part = if x < 0.0 {
        libm::ceil(x)
    } else {
        libm::floor(x)
    };
    let frac = if x == int_part { 0.0 } else { x - int_part };
    call.ret(&[
        int_if_exact(int_part),
        Value::Float(nan_like_x86(frac, x, x)),
    ])
}

fn tointeger<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let n = match to_number(call.arg(0)) {
        Some(Number::Int(i)) => Some(i),
        Some(Number::Float(f)) => float_to_int(f),
        None => None,
    };
    match n {
        Some(i) => call.ret1(Value::from(i)),
        None => {
            call.check_any(ctx, 0)?;
            call.ret1(Value::Nil)
        }
    }
}

fn type_<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let name: Option<&[u8]> = match call.check_any(ctx, 0)? {
        Value::Integer(_) => Some(b"integer"),
        Value::Float(_) => Some(b"float"),
        _ => None,
    };
    call.ret1(name.map_or(Value::Nil, |n| ctx.str_value(n)))
}

fn ult<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let a = call.check_integer(ctx, 0)?;
    let b = call.check_integer(ctx, 1)?;
    call.ret1(Value::from((a as u64) < (b as u64)))
}

fn max<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    extreme(ctx, call, true)
}

fn min<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    extreme(ctx, call, false)
}

/// `max` and `min`. Comparisons that need `__lt` suspend the loop; the continuation's state
/// word holds the index being compared (bits 32 and up), the best index so far (bits 1-31)
/// and whether it is `max` (bit 0).
fn extreme<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, want_max: bool) -> R<'gc> {
    call.check_any(ctx, 0)?;
    extreme_from(ctx, call, want_max, 1, 0)
}

fn extreme_from<'gc>(
    ctx: Ctx<'gc>,
    call: &mut NativeCall<'_, 'gc>,
    want_max: bool,
    start: usize,
    mut best: usize,
) -> R<'gc> {
    for i in start..call.nargs() {
        // max: is best < v?  min: is v < best?
        let (a, b) = if want_max {
            (call.arg(best), call.arg(i))
        } else {
            (call.arg(i), call.arg(best))
        };
        if let Some(less) = primitive_order(a, b, false) {
            if less {
                best = i;
            }
            continue;
        }
        let mut tm = metamethod(ctx, a, MetaEvent::Lt);
        if tm.is_nil() {
            tm = metamethod(ctx, b, MetaEvent::Lt);
        }
        if tm.is_nil() {
            return Err(match compare_error(ctx, a, b) {
                Error::Runtime(msg) => access::plain_error(ctx, &msg),
                e => e,
            });
        }
        let state = ((i as i64) << 32) | ((best as i64) << 1) | want_max as i64;
        let then = vm::lib::Cont::with_state(extreme_cont, state);
        return Ok(access::call_function(call, tm, &[a, b], then));
    }
    call.ret1(call.arg(best))
}

fn extreme_cont<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>, o: Outcome<'gc>) -> R<'gc> {
    let less = result_of(call, o).is_truthy();
    let state = call.state();
    let (i, best, want_max) = (
        (state >> 32) as usize,
        ((state & 0xffff_ffff) >> 1) as usize,
        state & 1 == 1,
    );
    extreme_from(ctx, call, want_max, i + 1, if less { i } else { best })
}

/// xoshiro256**: the generator of lua5.4's `math.random`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    /// The state `math.randomseed(n1, n2)` makes: the seed spread over the state, then 16
    /// values discarded.
    fn seeded(n1: u64, n2: u64) -> Self {
        let mut x = Xoshiro([n1, 0xff, n2, 0]);
        for _ in 0..16 {
            x.next();
        }
        x
    }

    /// A float in [0, 1) from the top 53 bits.
    fn float(r: u64) -> f64 {
        (r >> 11) as f64 * (0.5f64).powi(53)
    }

    /// `r` projected into [0, n] without bias: masked to the smallest `2^b - 1` covering
    /// `n`, drawing again while it falls above `n`.
    fn project(&mut self, mut r: u64, n: u64) -> u64 {
        if n & n.wrapping_add(1) == 0 {
            return r & n;
        }
        let mut mask = n;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        loop {
            r &= mask;
            if r <= n {
                return r;
            }
            r = self.next();
        }
    }
}

fn host_seed(ctx: Ctx<'_>) -> (u64, u64) {
    ctx.with_host(|h| (h.random_seed(), h.random_seed()))
}

fn with_generator<T>(call: &NativeCall<'_, '_>, f: impl FnOnce(&mut Xoshiro) -> T) -> T {
    let Value::UserData(state) = call.upval(0) else {
        bug() // random keeps its generator
    };
    state
        .with_data(|cell: &Cell<Xoshiro>| {
            let mut g = cell.get();
            let r = f(&mut g);
            cell.set(g);
            r
        })
        .unwrap_or_else(|| bug()) // random keeps its generator
}

fn random<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let r = with_generator(call, Xoshiro::next);
    let (low, up) = match call.nargs() {
        0 => return call.ret1(Value::from(Xoshiro::float(r))),
        1 => {
            let up = call.check_integer(ctx, 0)?;
            if up == 0 {
                return call.ret1(Value::from(r as i64));
            }
            (1, up)
        }
        2 => (call.check_integer(ctx, 0)?, call.check_integer(ctx, 1)?),
        _ => return Err(Error::runtime("wrong number of arguments")),
    };
    if low > up {
        return Err(Error::bad_arg(1, "interval is empty"));
    }
    let span = (up as u64).wrapping_sub(low as u64);
    let p = with_generator(call, |g| g.project(r, span));
    call.ret1(Value::from(p.wrapping_add(low as u64) as i64))
}

fn randomseed<'gc>(ctx: Ctx<'gc>, call: &mut NativeCall<'_, 'gc>) -> R<'gc> {
    let (n1, n2) = if call.nargs() == 0 {
        host_seed(ctx)
    } else {
        let n1 = call.check_integer(ctx, 0)?;
        (n1 as u64, call.opt_integer(ctx, 1, 0)? as u64)
    };
    with_generator(call, |g| *g = Xoshiro::seeded(n1, n2));
    call.ret(&[Value::Integer(n1 as i64), Value::Integer(n2 as i64)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_sequences_are_lua_5_4s() {
        // lua5.4 -e 'math.randomseed(42) print(math.random(1,10), math.random(0), math.random())'
        let mut g = Xoshiro::seeded(42, 0);
        let r = g.next();
        assert_eq!(g.project(r, 9) + 1, 6);
        assert_eq!(g.next() as i64, 8333941968102511665);
        let f = Xoshiro::float(g.next());
        assert!((f - 0.54688311243421).abs() < 1e-14);
        // math.randomseed(7, 3) print(math.random(100), math.random(-5, 5),
        //   math.random(math.mininteger, math.maxinteger), math.random(3.0))
        let mut g = Xoshiro::seeded(7, 3);
        let r = g.next();
        assert_eq!(g.project(r, 99) + 1, 52);
        let r = g.next();
        assert_eq!(g.project(r, 10) as i64 - 5, 5);
        let r = g.next();
        let full = g.project(r, u64::MAX).wrapping_add(i64::MIN as u64) as i64;
        assert_eq!(full, -8163318283203765977);
        let r = g.next();
        assert_eq!(g.project(r, 2) + 1, 1);
    }
}
