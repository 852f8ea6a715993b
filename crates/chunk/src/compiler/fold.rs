//! Constant folding of arithmetic on numeric literals, with the interpreter's own arithmetic
//! (`crate::number`), so a folded result is the one the operation would give at run time. As
//! in lua5.4, an operation that could raise (division by zero, a float with no integer value in
//! a bitwise operation) is left to run time, and so are results that are NaN or zero (to keep
//! `-0.0` out of constants).

use super::code::{BinOp, UnOp};
use crate::number::{
    float_floor_div, float_mod, float_pow, float_to_int, int_floor_div, int_mod, shift_left,
    shift_right,
};

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
            Num::Float(f) => float_to_int(f),
        }
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
        BinOp::Div | BinOp::Pow => {
            if op == BinOp::Div && b.to_float() == 0.0 {
                return None;
            }
            let (x, y) = (a.to_float(), b.to_float());
            Num::Float(if op == BinOp::Div {
                x / y
            } else {
                float_pow(x, y)
            })
        }
        BinOp::IDiv | BinOp::Mod => {
            if b.to_float() == 0.0 {
                return None;
            }
            match (a, b, op) {
                (Num::Int(x), Num::Int(y), BinOp::IDiv) => Num::Int(int_floor_div(x, y)?),
                (Num::Int(x), Num::Int(y), _) => Num::Int(int_mod(x, y)?),
                (_, _, BinOp::IDiv) => Num::Float(float_floor_div(a.to_float(), b.to_float())),
                _ => Num::Float(float_mod(a.to_float(), b.to_float())),
            }
        }
        BinOp::BAnd | BinOp::BOr | BinOp::BXor | BinOp::Shl | BinOp::Shr => {
            let (x, y) = (a.to_exact_int()?, b.to_exact_int()?);
            Num::Int(match op {
                BinOp::BAnd => x & y,
                BinOp::BOr => x | y,
                BinOp::BXor => x ^ y,
                BinOp::Shl => shift_left(x, y),
                _ => shift_right(x, y),
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
