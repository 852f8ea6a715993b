//! Arithmetic and bitwise operators: the numeric rules, and the slow path that falls back to
//! metamethods (string operands convert through the string metatable's `__add`..., as in
//! lua5.4).

use alloc::format;

use crate::checked::at_mut;
use crate::number::{
    self, float_floor_div, float_mod, float_pow, float_to_int, int_floor_div, int_mod, nan_like_x86,
};
use crate::state::Ctx;
use crate::thread::{RetMode, Thread, ThreadState};
use crate::value::Value;

use super::call::{call_at_top, Flow};
use super::describe::{describe_register, Src};
use super::meta::{metamethod, type_error, MetaEvent};
use super::native::Error;

/// A binary or unary operator that may go through a metamethod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Mod,
    Pow,
    Div,
    IDiv,
    BAnd,
    BOr,
    BXor,
    Shl,
    Shr,
    Unm,
    BNot,
}

impl ArithOp {
    fn event(self) -> MetaEvent {
        match self {
            ArithOp::Add => MetaEvent::Add,
            ArithOp::Sub => MetaEvent::Sub,
            ArithOp::Mul => MetaEvent::Mul,
            ArithOp::Mod => MetaEvent::Mod,
            ArithOp::Pow => MetaEvent::Pow,
            ArithOp::Div => MetaEvent::Div,
            ArithOp::IDiv => MetaEvent::IDiv,
            ArithOp::BAnd => MetaEvent::BAnd,
            ArithOp::BOr => MetaEvent::BOr,
            ArithOp::BXor => MetaEvent::BXor,
            ArithOp::Shl => MetaEvent::Shl,
            ArithOp::Shr => MetaEvent::Shr,
            ArithOp::Unm => MetaEvent::Unm,
            ArithOp::BNot => MetaEvent::BNot,
        }
    }

    fn is_bitwise(self) -> bool {
        matches!(
            self,
            ArithOp::BAnd
                | ArithOp::BOr
                | ArithOp::BXor
                | ArithOp::Shl
                | ArithOp::Shr
                | ArithOp::BNot
        )
    }
}

/// Integer value of a number operand for bitwise operators.
#[inline]
fn int_operand(v: Value<'_>) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(i),
        Value::Float(f) => float_to_int(f),
        _ => None,
    }
}

/// The operator on two numbers (integers and floats, no strings). `Ok(None)`: an operand is
/// not a number (or, for bitwise operators, has no integer value).
pub fn arith_numbers<'gc>(
    op: ArithOp,
    a: Value<'gc>,
    b: Value<'gc>,
) -> Result<Option<Value<'gc>>, Error<'gc>> {
    if op.is_bitwise() {
        let (Some(x), Some(y)) = (int_operand(a), int_operand(b)) else {
            return Ok(None);
        };
        return Ok(Some(Value::Integer(match op {
            ArithOp::BAnd => x & y,
            ArithOp::BOr => x | y,
            ArithOp::BXor => x ^ y,
            ArithOp::Shl => number::shift_left(x, y),
            ArithOp::Shr => number::shift_right(x, y),
            _ => !x,
        })));
    }
    if let (Value::Integer(x), Value::Integer(y)) = (a, b) {
        let r = match op {
            ArithOp::Add => x.wrapping_add(y),
            ArithOp::Sub => x.wrapping_sub(y),
            ArithOp::Mul => x.wrapping_mul(y),
            ArithOp::Mod => {
                int_mod(x, y).ok_or_else(|| Error::runtime("attempt to perform 'n%0'"))?
            }
            ArithOp::IDiv => {
                int_floor_div(x, y).ok_or_else(|| Error::runtime("attempt to divide by zero"))?
            }
            ArithOp::Unm => x.wrapping_neg(),
            ArithOp::Pow | ArithOp::Div => {
                return Ok(Some(Value::Float(float_op(op, x as f64, y as f64))))
            }
            _ => unreachable!("bitwise handled above"),
        };
        return Ok(Some(Value::Integer(r)));
    }
    let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
        return Ok(None);
    };
    Ok(Some(Value::Float(float_op(op, x, y))))
}

/// A float operator.
#[inline]
pub fn float_op(op: ArithOp, x: f64, y: f64) -> f64 {
    match op {
        ArithOp::Add => nan_like_x86(x + y, x, y),
        ArithOp::Sub => nan_like_x86(x - y, x, y),
        ArithOp::Mul => nan_like_x86(x * y, x, y),
        ArithOp::Div => nan_like_x86(x / y, x, y),
        ArithOp::Mod => float_mod(x, y),
        ArithOp::Pow => float_pow(x, y),
        ArithOp::IDiv => float_floor_div(x, y),
        ArithOp::Unm => -x,
        _ => f64::NAN,
    }
}

/// The slow path of an operator: non-number operands go to metamethods; the result (or the
/// metamethod's) lands in `stack[dest]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn arith<'gc>(
    ctx: Ctx<'gc>,
    thread: Thread<'gc>,
    ts: &mut ThreadState<'gc>,
    op: ArithOp,
    a: Value<'gc>,
    b: Value<'gc>,
    dest: usize,
    srcs: (Src, Src),
) -> Result<Flow<'gc>, Error<'gc>> {
    if let Some(v) = arith_numbers(op, a, b)? {
        *at_mut(&mut ts.stack, dest) = v;
        return Ok(Flow::Continue);
    }
    let event = op.event();
    let mut tm = metamethod(ctx, a, event);
    if tm.is_nil() {
        tm = metamethod(ctx, b, event);
    }
    if !tm.is_nil() {
        return call_at_top(
            ctx,
            thread,
            ts,
            tm,
            &[a, b],
            RetMode::Single { dest: dest as u32 },
        );
    }
    let is_number = |v: Value<'_>| matches!(v, Value::Integer(_) | Value::Float(_));
    if op.is_bitwise() && is_number(a) && is_number(b) {
        let src = if int_operand(a).is_none() {
            srcs.0
        } else {
            srcs.1
        };
        let desc = describe_register(ctx, ts, src);
        return Err(Error::runtime(format!(
            "number{desc} has no integer representation"
        )));
    }
    let (bad, src) = if is_number(a) {
        (b, srcs.1)
    } else {
        (a, srcs.0)
    };
    let what = if op.is_bitwise() {
        "perform bitwise operation on"
    } else {
        "perform arithmetic on"
    };
    Err(type_error(ctx, ts, bad, what, src, Value::Nil))
}
