//! Unary and binary operators: folding, the specialised instructions (immediate and constant
//! operands, fused comparisons), and the order of evaluation of their operands.
//!
//! Unlike lua5.4, operands are never swapped for arithmetic and the comparisons' immediates
//! are integers only: our instructions carry no flag telling a metamethod the original order
//! or that a constant was a float, so `1 + x` and `x < 1.0` keep both operands as written.

use super::expr::{ExpDesc, ExpKind};
use super::NO_JUMP;
use crate::bytecode::Op;
use crate::compiler::fold::{fold_binary, fold_unary, Num};
use crate::compiler::lexer::Token;
use crate::compiler::parse::Parser;
use crate::compiler::SyntaxError;

/// A unary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Minus,
    BNot,
    Not,
    Len,
}

impl UnOp {
    pub(crate) fn from_token(token: Token) -> Option<UnOp> {
        Some(match token {
            Token::Not => UnOp::Not,
            Token::Char(b'-') => UnOp::Minus,
            Token::Char(b'~') => UnOp::BNot,
            Token::Char(b'#') => UnOp::Len,
            _ => return None,
        })
    }
}

/// Priority of unary operators: above every binary one but `^`.
pub(crate) const UNARY_PRIORITY: u8 = 12;

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
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
    Concat,
    Eq,
    Lt,
    Le,
    Ne,
    Gt,
    Ge,
    And,
    Or,
}

impl BinOp {
    pub(crate) fn from_token(token: Token) -> Option<BinOp> {
        Some(match token {
            Token::Char(b'+') => BinOp::Add,
            Token::Char(b'-') => BinOp::Sub,
            Token::Char(b'*') => BinOp::Mul,
            Token::Char(b'%') => BinOp::Mod,
            Token::Char(b'^') => BinOp::Pow,
            Token::Char(b'/') => BinOp::Div,
            Token::IDiv => BinOp::IDiv,
            Token::Char(b'&') => BinOp::BAnd,
            Token::Char(b'|') => BinOp::BOr,
            Token::Char(b'~') => BinOp::BXor,
            Token::Shl => BinOp::Shl,
            Token::Shr => BinOp::Shr,
            Token::Concat => BinOp::Concat,
            Token::Ne => BinOp::Ne,
            Token::Eq => BinOp::Eq,
            Token::Char(b'<') => BinOp::Lt,
            Token::Le => BinOp::Le,
            Token::Char(b'>') => BinOp::Gt,
            Token::Ge => BinOp::Ge,
            Token::And => BinOp::And,
            Token::Or => BinOp::Or,
            _ => return None,
        })
    }

    /// Left and right priority; right below left makes an operator right associative.
    pub(crate) fn priority(self) -> (u8, u8) {
        match self {
            BinOp::Add | BinOp::Sub => (10, 10),
            BinOp::Mul | BinOp::Mod | BinOp::Div | BinOp::IDiv => (11, 11),
            BinOp::Pow => (14, 13),
            BinOp::BAnd => (6, 6),
            BinOp::BOr => (4, 4),
            BinOp::BXor => (5, 5),
            BinOp::Shl | BinOp::Shr => (7, 7),
            BinOp::Concat => (9, 8),
            BinOp::Eq | BinOp::Lt | BinOp::Le | BinOp::Ne | BinOp::Gt | BinOp::Ge => (3, 3),
            BinOp::And => (2, 2),
            BinOp::Or => (1, 1),
        }
    }

    fn is_arithmetic_or_bitwise(self) -> bool {
        matches!(
            self,
            BinOp::Add
                | BinOp::Sub
                | BinOp::Mul
                | BinOp::Mod
                | BinOp::Pow
                | BinOp::Div
                | BinOp::IDiv
                | BinOp::BAnd
                | BinOp::BOr
                | BinOp::BXor
                | BinOp::Shl
                | BinOp::Shr
        )
    }
}

fn numeral(e: &ExpDesc) -> Option<Num> {
    if e.has_jumps() {
        return None;
    }
    match e.kind {
        ExpKind::Int(i) => Some(Num::Int(i)),
        ExpKind::Float(f) => Some(Num::Float(f)),
        _ => None,
    }
}

fn num_kind(n: Num) -> ExpKind {
    match n {
        Num::Int(i) => ExpKind::Int(i),
        Num::Float(f) => ExpKind::Float(f),
    }
}

/// The integer of `e` if it fits an 8-bit immediate of a comparison.
fn comparison_immediate(e: &ExpDesc) -> Option<i8> {
    e.as_int().and_then(|i| i8::try_from(i).ok())
}

/// The integer of `e` if it fits a 16-bit immediate of an arithmetic op.
fn arithmetic_immediate(e: &ExpDesc) -> Option<i16> {
    e.as_int().and_then(|i| i16::try_from(i).ok())
}

/// The instruction for `R[a] := R[b] op R[c]`.
fn register_op(op: BinOp, a: u8, b: u8, c: u8) -> Op {
    match op {
        BinOp::Add => Op::Add { a, b, c },
        BinOp::Sub => Op::Sub { a, b, c },
        BinOp::Mul => Op::Mul { a, b, c },
        BinOp::Mod => Op::Mod { a, b, c },
        BinOp::Pow => Op::Pow { a, b, c },
        BinOp::Div => Op::Div { a, b, c },
        BinOp::IDiv => Op::IDiv { a, b, c },
        BinOp::BAnd => Op::BAnd { a, b, c },
        BinOp::BOr => Op::BOr { a, b, c },
        BinOp::BXor => Op::BXor { a, b, c },
        BinOp::Shl => Op::Shl { a, b, c },
        _ => Op::Shr { a, b, c },
    }
}

/// The instruction for `R[a] := R[b] op K[k]`, if there is one.
fn constant_op(op: BinOp, a: u8, b: u8, k: u32) -> Option<Op> {
    Some(match op {
        BinOp::Add => Op::AddK { a, b, k },
        BinOp::Sub => Op::SubK { a, b, k },
        BinOp::Mul => Op::MulK { a, b, k },
        BinOp::Mod => Op::ModK { a, b, k },
        BinOp::Pow => Op::PowK { a, b, k },
        BinOp::Div => Op::DivK { a, b, k },
        BinOp::IDiv => Op::IDivK { a, b, k },
        BinOp::BAnd => Op::BAndK { a, b, k },
        BinOp::BOr => Op::BOrK { a, b, k },
        BinOp::BXor => Op::BXorK { a, b, k },
        _ => return None,
    })
}

impl Parser<'_> {
    /// Applies a unary operator read on line `line` to `e`.
    pub(crate) fn prefix(
        &mut self,
        op: UnOp,
        e: &mut ExpDesc,
        line: u32,
    ) -> Result<(), SyntaxError> {
        self.discharge_vars(e);
        match op {
            UnOp::Minus | UnOp::BNot => {
                if let Some(result) = numeral(e).and_then(|n| fold_unary(op, n)) {
                    e.kind = num_kind(result);
                    return Ok(());
                }
                self.code_unary(op, e, line)
            }
            UnOp::Len => self.code_unary(op, e, line),
            UnOp::Not => self.code_not(e),
        }
    }

    fn code_unary(&mut self, op: UnOp, e: &mut ExpDesc, line: u32) -> Result<(), SyntaxError> {
        let b = self.exp_to_any_reg(e)? as u8;
        self.free_exp(e);
        let instruction = match op {
            UnOp::Minus => Op::Unm { a: 0, b },
            UnOp::BNot => Op::BNot { a: 0, b },
            _ => Op::Len { a: 0, b },
        };
        e.kind = ExpKind::Reloc(self.emit(instruction));
        self.fix_line(line);
        Ok(())
    }

    /// Prepares the first operand of a binary operator before the second one is read.
    pub(crate) fn infix(&mut self, op: BinOp, v: &mut ExpDesc) -> Result<(), SyntaxError> {
        self.discharge_vars(v);
        match op {
            BinOp::And => self.go_if_true(v)?,
            BinOp::Or => self.go_if_false(v)?,
            BinOp::Concat => self.exp_to_next_reg(v)?,
            BinOp::Eq | BinOp::Ne => {
                // Numerals may become immediates or constants of the comparison.
                if numeral(v).is_none() {
                    self.exp_to_rk(v)?;
                }
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if comparison_immediate(v).is_none() {
                    self.exp_to_any_reg(v)?;
                }
            }
            _ => {
                // Numerals may be folded with the second operand or become immediates.
                if numeral(v).is_none() {
                    self.exp_to_any_reg(v)?;
                }
            }
        }
        Ok(())
    }

    /// Completes `e1 op e2` (the operator read on line `line`) into `e1`.
    pub(crate) fn posfix(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        e2: &mut ExpDesc,
        line: u32,
    ) -> Result<(), SyntaxError> {
        self.discharge_vars(e2);
        if op.is_arithmetic_or_bitwise() {
            if let (Some(a), Some(b)) = (numeral(e1), numeral(e2)) {
                if let Some(result) = fold_binary(op, a, b) {
                    e1.kind = num_kind(result);
                    return Ok(());
                }
            }
        }
        match op {
            BinOp::And => {
                debug_assert_eq!(e1.t, NO_JUMP);
                self.fs.concat_jumps(&mut e2.f, e1.f);
                *e1 = *e2;
            }
            BinOp::Or => {
                debug_assert_eq!(e1.f, NO_JUMP);
                self.fs.concat_jumps(&mut e2.t, e1.t);
                *e1 = *e2;
            }
            BinOp::Concat => {
                self.exp_to_next_reg(e2)?;
                self.code_concat(e1, e2, line);
            }
            BinOp::Add => match arithmetic_immediate(e2) {
                Some(i) => {
                    let b = self.exp_to_any_reg(e1)? as u8;
                    self.finish_binary(e1, e2, Op::AddI { a: 0, b, i }, line);
                }
                None => self.code_arithmetic(op, e1, e2, line)?,
            },
            BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::IDiv | BinOp::Mod | BinOp::Pow => {
                self.code_arithmetic(op, e1, e2, line)?
            }
            BinOp::BAnd | BinOp::BOr | BinOp::BXor => {
                if e2.as_int().is_some() {
                    self.code_arithmetic(op, e1, e2, line)?;
                } else {
                    self.code_registers(op, e1, e2, line)?;
                }
            }
            BinOp::Shl => match arithmetic_immediate(e1) {
                Some(i) => {
                    let b = self.exp_to_any_reg(e2)? as u8;
                    self.finish_binary(e1, e2, Op::ShlI { a: 0, b, i }, line);
                }
                None => self.code_registers(op, e1, e2, line)?,
            },
            BinOp::Shr => match arithmetic_immediate(e2) {
                Some(i) => {
                    let b = self.exp_to_any_reg(e1)? as u8;
                    self.finish_binary(e1, e2, Op::ShrI { a: 0, b, i }, line);
                }
                None => self.code_registers(op, e1, e2, line)?,
            },
            BinOp::Eq | BinOp::Ne => self.code_equality(op == BinOp::Eq, e1, e2)?,
            BinOp::Lt | BinOp::Le => self.code_order(op, e1, e2)?,
            BinOp::Gt | BinOp::Ge => {
                // `a > b` is `b < a`, `a >= b` is `b <= a`.
                core::mem::swap(e1, e2);
                let op = if op == BinOp::Gt {
                    BinOp::Lt
                } else {
                    BinOp::Le
                };
                self.code_order(op, e1, e2)?;
            }
        }
        Ok(())
    }

    /// Emits `instruction` (whose first operand is already placed) for `e1 op e2` and makes
    /// `e1` its relocatable result.
    fn finish_binary(&mut self, e1: &mut ExpDesc, e2: &ExpDesc, instruction: Op, line: u32) {
        let pc = self.emit(instruction);
        self.free_exps(e1, e2);
        e1.kind = ExpKind::Reloc(pc);
        self.fix_line(line);
    }

    /// Arithmetic with a numeric literal second operand as a constant, else on registers.
    fn code_arithmetic(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        e2: &mut ExpDesc,
        line: u32,
    ) -> Result<(), SyntaxError> {
        let constant = match numeral(e2) {
            Some(Num::Int(i)) => Some(self.int_constant(i)),
            Some(Num::Float(f)) => Some(self.float_constant(f)),
            None => None,
        };
        if let Some(k) = constant {
            let b = self.exp_to_any_reg(e1)? as u8;
            if let Some(instruction) = constant_op(op, 0, b, k) {
                e2.kind = ExpKind::K(k);
                self.finish_binary(e1, e2, instruction, line);
                return Ok(());
            }
        }
        self.code_registers(op, e1, e2, line)
    }

    /// `e1 op e2` with both operands in registers.
    fn code_registers(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        e2: &mut ExpDesc,
        line: u32,
    ) -> Result<(), SyntaxError> {
        let c = self.exp_to_any_reg(e2)? as u8;
        let b = self.exp_to_any_reg(e1)? as u8;
        self.finish_binary(e1, e2, register_op(op, 0, b, c), line);
        Ok(())
    }

    /// `e1 .. e2` with both in consecutive registers; merges with a concatenation just emitted
    /// for `e2` (concatenation is right associative).
    fn code_concat(&mut self, e1: &ExpDesc, e2: &ExpDesc, line: u32) {
        let ExpKind::NonReloc(first) = e1.kind else {
            debug_assert!(false, "concatenating from {:?}", e1.kind);
            return;
        };
        if let Some(Op::Concat { a, n }) = self.fs.previous_instruction() {
            if u32::from(a) == first + 1 {
                self.free_exp(e2);
                if let Some(last) = self.fs.proto.code.last_mut() {
                    *last = Op::Concat {
                        a: first as u8,
                        n: n + 1,
                    };
                }
                return;
            }
        }
        self.emit(Op::Concat {
            a: first as u8,
            n: 2,
        });
        self.free_exp(e2);
        self.fix_line(line);
    }

    /// `==` (`equal`) or `~=`: with an immediate, a constant or two registers.
    fn code_equality(
        &mut self,
        equal: bool,
        e1: &mut ExpDesc,
        e2: &mut ExpDesc,
    ) -> Result<(), SyntaxError> {
        // Equality is symmetric: keep the literal, if any, second.
        if !matches!(e1.kind, ExpKind::NonReloc(_)) {
            core::mem::swap(e1, e2);
        }
        let a = self.exp_to_any_reg(e1)? as u8;
        let immediate = match (e2.has_jumps(), e2.kind) {
            (false, ExpKind::Int(i)) => i8::try_from(i).ok(),
            (false, ExpKind::Float(f)) => {
                // A float equal to a small integer compares the same as that integer.
                let i = f as i8;
                (f64::from(i) == f).then_some(i)
            }
            _ => None,
        };
        let instruction = if let Some(i) = immediate {
            Op::EqI {
                a,
                i,
                k: equal,
                off: NO_JUMP,
            }
        } else {
            match self.exp_to_rk(e2)? {
                (c, true) => Op::EqK {
                    a,
                    c,
                    k: equal,
                    off: NO_JUMP,
                },
                (b, false) => Op::Eq {
                    a,
                    b,
                    k: equal,
                    off: NO_JUMP,
                },
            }
        };
        self.free_exps(e1, e2);
        e1.kind = ExpKind::Jump(self.cond_jump(instruction));
        Ok(())
    }

    /// `<` or `<=`, with an immediate on either side or two registers.
    fn code_order(
        &mut self,
        op: BinOp,
        e1: &mut ExpDesc,
        e2: &mut ExpDesc,
    ) -> Result<(), SyntaxError> {
        let less = op == BinOp::Lt;
        let instruction = if let Some(i) = comparison_immediate(e2) {
            let a = self.exp_to_any_reg(e1)? as u8;
            if less {
                Op::LtI {
                    a,
                    i,
                    k: true,
                    off: NO_JUMP,
                }
            } else {
                Op::LeI {
                    a,
                    i,
                    k: true,
                    off: NO_JUMP,
                }
            }
        } else if let Some(i) = comparison_immediate(e1) {
            // `i < x` is `x > i`, `i <= x` is `x >= i`.
            let a = self.exp_to_any_reg(e2)? as u8;
            if less {
                Op::GtI {
                    a,
                    i,
                    k: true,
                    off: NO_JUMP,
                }
            } else {
                Op::GeI {
                    a,
                    i,
                    k: true,
                    off: NO_JUMP,
                }
            }
        } else {
            let a = self.exp_to_any_reg(e1)? as u8;
            let b = self.exp_to_any_reg(e2)? as u8;
            if less {
                Op::Lt {
                    a,
                    b,
                    k: true,
                    off: NO_JUMP,
                }
            } else {
                Op::Le {
                    a,
                    b,
                    k: true,
                    off: NO_JUMP,
                }
            }
        };
        self.free_exps(e1, e2);
        e1.kind = ExpKind::Jump(self.cond_jump(instruction));
        Ok(())
    }
}
