//! The opcode table: each instruction's number in the binary format and its operands in
//! order. Writer and reader are both generated from this one table so they cannot disagree,
//! and a new `Op` variant does not compile until it has a number here.

use alloc::vec::Vec;

use crate::bytecode::Op;

use super::read::{Malformed, Reader};
use super::write::{put_sv, put_uv};

/// How one operand type is encoded. Never inlined: each opcode's arm is then a few calls,
/// which keeps the generated writer and reader small.
trait Operand: Sized + Default {
    fn put(self, out: &mut Vec<u8>);
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed>;
}

impl Operand for u8 {
    #[inline(never)]
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
    #[inline(never)]
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        r.byte()
    }
}

impl Operand for i8 {
    #[inline(never)]
    fn put(self, out: &mut Vec<u8>) {
        out.push(self as u8);
    }
    #[inline(never)]
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        Ok(r.byte()? as i8)
    }
}

impl Operand for bool {
    #[inline(never)]
    fn put(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    #[inline(never)]
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        r.bool()
    }
}

impl Operand for u32 {
    #[inline(never)]
    fn put(self, out: &mut Vec<u8>) {
        put_uv(out, u64::from(self));
    }
    #[inline(never)]
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        r.u32()
    }
}

impl Operand for i32 {
    #[inline(never)]
    fn put(self, out: &mut Vec<u8>) {
        put_sv(out, i64::from(self));
    }
    #[inline(never)]
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        r.i32()
    }
}

impl Operand for i16 {
    #[inline(never)]
    fn put(self, out: &mut Vec<u8>) {
        put_sv(out, i64::from(self));
    }
    #[inline(never)]
    fn take(r: &mut Reader<'_>) -> Result<Self, Malformed> {
        r.i16()
    }
}

/// Reads one operand unless an earlier one of the instruction failed, keeping the first
/// failure in `r.failed`: each opcode's arm in the reader is then one call per operand, with
/// no branch after each (the instruction is dropped when `r.failed` is set).
#[inline(never)]
fn field<T: Operand>(r: &mut Reader<'_>) -> T {
    if r.failed.is_none() {
        match T::take(r) {
            Ok(v) => return v,
            Err(e) => r.failed = Some(e),
        }
    }
    T::default()
}

macro_rules! opcodes {
    ($($code:literal => $name:ident { $($field:ident),* },)*) => {
        pub(super) fn write_op(out: &mut Vec<u8>, op: Op) {
            // The opcode from a table, then the operands: one push for all the arms.
            out.push(match op {
                $(Op::$name { .. } => $code,)*
            });
            match op {
                $(Op::$name { $($field),* } => {
                    $(Operand::put($field, out);)*
                })*
            }
        }

        /// The opcode's name, for the verifier's messages (a derived `Debug` would cost the
        /// module several kilobytes).
        pub(super) fn op_name(op: Op) -> &'static str {
            match op {
                $(Op::$name { .. } => stringify!($name),)*
            }
        }

        pub(super) fn read_op(r: &mut Reader<'_>) -> Result<Op, Malformed> {
            // A struct expression evaluates its fields in the order written, the operands'.
            let op = match r.byte()? {
                $($code => Op::$name { $($field: field(r)),* },)*
                _ => return Err("unknown opcode"),
            };
            r.failed.take().map_or(Ok(op), Err)
        }
    };
}

opcodes! {
    0 => Move { a, b },
    1 => LoadI { a, i },
    2 => LoadF { a, f },
    3 => LoadK { a, k },
    4 => LoadFalse { a },
    5 => LoadFalseSkip { a },
    6 => LoadTrue { a },
    7 => LoadNil { a, n },
    8 => GetUpval { a, b },
    9 => SetUpval { a, b },
    10 => GetTabUp { a, b, k },
    11 => GetTable { a, b, c },
    12 => GetInt { a, b, c },
    13 => GetField { a, b, k },
    14 => SetTabUp { a, c, kc, k },
    15 => SetTable { a, b, c, kc },
    16 => SetInt { a, b, c, kc },
    17 => SetField { a, c, kc, k },
    18 => NewTable { a, hash, array },
    19 => SelfK { a, b, k },
    20 => AddI { a, b, i },
    21 => AddK { a, b, k },
    22 => SubK { a, b, k },
    23 => MulK { a, b, k },
    24 => ModK { a, b, k },
    25 => PowK { a, b, k },
    26 => DivK { a, b, k },
    27 => IDivK { a, b, k },
    28 => BAndK { a, b, k },
    29 => BOrK { a, b, k },
    30 => BXorK { a, b, k },
    31 => ShrI { a, b, i },
    32 => ShlI { a, b, i },
    33 => Add { a, b, c },
    34 => Sub { a, b, c },
    35 => Mul { a, b, c },
    36 => Mod { a, b, c },
    37 => Pow { a, b, c },
    38 => Div { a, b, c },
    39 => IDiv { a, b, c },
    40 => BAnd { a, b, c },
    41 => BOr { a, b, c },
    42 => BXor { a, b, c },
    43 => Shl { a, b, c },
    44 => Shr { a, b, c },
    45 => Unm { a, b },
    46 => BNot { a, b },
    47 => Not { a, b },
    48 => Len { a, b },
    49 => Concat { a, n },
    50 => Close { a },
    51 => Tbc { a },
    52 => Jmp { off },
    53 => Eq { a, b, k, off },
    54 => Lt { a, b, k, off },
    55 => Le { a, b, k, off },
    56 => EqK { a, c, k, off },
    57 => EqI { a, i, k, off },
    58 => LtI { a, i, k, off },
    59 => LeI { a, i, k, off },
    60 => GtI { a, i, k, off },
    61 => GeI { a, i, k, off },
    62 => Test { a, k, off },
    63 => TestSet { a, b, k, off },
    64 => Call { a, b, c },
    65 => TailCall { a, b },
    66 => Return { a, b },
    67 => Return0 {},
    68 => Return1 { a },
    69 => ForPrep { a, off },
    70 => ForLoop { a, off },
    71 => TForPrep { a, off },
    72 => TForCall { a, c },
    73 => TForLoop { a, off },
    74 => SetList { a, n, start },
    75 => Closure { a, p },
    76 => VarArg { a, c },
}
