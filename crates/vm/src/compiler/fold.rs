//! Constant folding of arithmetic on numeric literals, with Lua 5.4's exact results. An
//! operation that could raise (division by zero, a float with no integer value in a bitwise
//! operation) is left to run time; so are the ones whose float result would need the C math
//! library (`^`, float `%`), and results that are NaN or zero (to keep `-0.0` out of constants).

use super::code::{BinOp, UnOp};

/// A numeric literal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn to_float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The integer with the same value, as bitwise operations require.
    fn to_exact_int(self) -> Option<i64> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(f) => float_to_exact_int(f),
        }
    }
}

/// `2^63`, the first float above every `i64`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

fn float_to_exact_int(f: f64) -> Option<i64> {
    if (-TWO_POW_63..TWO_POW_63).contains(&f) && (f as i64) as f64 == f {
        Some(f as i64)
    } else {
        None
    }
}

/// `floor(x)` without the C library.
fn floor(x: f64) -> f64 {
    // From 2^52 up every double is an integer; NaN and infinities stay as they are.
    if x.is_nan() || x.abs() >= 4_503_599_627_370_496.0 {
        return x;
    }
    let truncated = (x as i64) as f64;
    if truncated > x {
        truncated - 1.0
    } else {
        truncated
    }
}

fn int_floor_div(a: i64, b: i64) -> i64 {
    let quotient = a.wrapping_div(b);
    if a.wrapping_rem(b) != 0 && (a < 0) != (b < 0) {
        quotient - 1
    } else {
        quotient
    }
}

fn int_mod(a: i64, b: i64) -> i64 {
    let remainder = a.wrapping_rem(b);
    if remainder != 0 && (remainder < 0) != (b < 0) {
        remainder + b
    } else {
        remainder
    }
}

/// `a << n` as Lua defines it: negative `n` shifts right, 64 or more gives 0.
fn shift_left(a: i64, n: i64) -> i64 {
    if n <= -64 || n >= 64 {
        0
    } else if n >= 0 {
        ((a as u64) << n) as i64
    } else {
        ((a as u64) >> -n) as i64
    }
}

/// Keeps a result only if it can safely become a constant.
fn foldable(result: Num) -> Option<Num> {
    match result {
        Num::Float(f) if f.is_nan() || f == 0.0 => None,
        other => Some(other),
    }
}

/// `a op b`, when it can be computed at compile time.
pub(crate) fn fold_binary(op: BinOp, a: Num, b: Num) -> Option<Num> {
    let result = match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul => match (a, b) {
            (Num::Int(x), Num::Int(y)) => Num::Int(match op {
                BinOp::Add => x.wrapping_add(y),
                BinOp::Sub => x.wrapping_sub(y),
                _ => x.wrapping_mul(y),
            }),
            _ => {
                let (x, y) = (a.to_float(), b.to_float());
                Num::Float(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    _ => x * y,
                })
            }
        },
        BinOp::Div => {
            let divisor = b.to_float();
            if divisor == 0.0 {
                return None;
            }
            Num::Float(a.to_float() / divisor)
        }
        BinOp::IDiv | BinOp::Mod => {
            if b.to_float() == 0.0 {
                return None;
            }
            match (a, b, op) {
                (Num::Int(x), Num::Int(y), BinOp::IDiv) => Num::Int(int_floor_div(x, y)),
                (Num::Int(x), Num::Int(y), _) => Num::Int(int_mod(x, y)),
                (_, _, BinOp::IDiv) => Num::Float(floor(a.to_float() / b.to_float())),
                _ => return None,
            }
        }
        BinOp::BAnd | BinOp::BOr | BinOp::BXor | BinOp::Shl | BinOp::Shr => {
            let (x, y) = (a.to_exact_int()?, b.to_exact_int()?);
            Num::Int(match op {
                BinOp::BAnd => x & y,
                BinOp::BOr => x | y,
                BinOp::BXor => x ^ y,
                BinOp::Shl => shift_left(x, y),
                _ => shift_left(x, y.wrapping_neg()),
            })
        }
        _ => return None,
    };
    foldable(result)
}

/// `-a` or `~a`, when it can be computed at compile time.
pub(crate) fn fold_unary(op: UnOp, a: Num) -> Option<Num> {
    let result = match (op, a) {
        (UnOp::Minus, Num::Int(i)) => Num::Int(i.wrapping_neg()),
        (UnOp::Minus, Num::Float(f)) => Num::Float(-f),
        (UnOp::BNot, _) => Num::Int(!a.to_exact_int()?),
        _ => return None,
    };
    foldable(result)
}
