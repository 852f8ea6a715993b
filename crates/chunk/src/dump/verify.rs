//! The verifier: what a prototype must satisfy before the interpreter may run it.
//!
//! The interpreter trusts its bytecode (that is what makes it fast): it indexes registers,
//! constants and upvalues without checks, reads the stack top that the instruction before
//! left, and assumes loop registers hold what the loop's preparation put there. Every chunk
//! that is read is checked against the rules below, so that whatever a chunk says, running it
//! cannot make the interpreter panic, index out of bounds or jump backwards without spending
//! fuel. The compiler's output satisfies all of them (the tests check this on the corpora).
//!
//! For each prototype (`R` = `max_stack`, `K` = constants, `U` = upvalues, `n` = code
//! length):
//!
//! 1. **Shape.** Prototypes nest at most [`MAX_DEPTH`] deep; `num_params <= R`; at most 255
//!    upvalues; `lines` is empty or has `n` entries; each local has `reg < R` and
//!    `start_pc <= end_pc <= n`; `n >= 1`.
//! 2. **Closures.** For each nested prototype, an upvalue taken from the stack has
//!    `index < R` of this function, one taken from this function's upvalues `index < U`.
//! 3. **Operands.** Every register an instruction reads or writes is `< R` (ranges whole:
//!    `LoadNil`, `Concat` (`n >= 2`), call arguments and results, `SetList`'s items, the four
//!    registers of `ForPrep`/`ForLoop`/`TForPrep`, `TForLoop`'s five, and `TForCall`'s
//!    `a + 4 + max(c, 3)` with `c >= 1`; a `Return` of `b - 1` values and a `Close` may sit
//!    at `R`); constant indices `< K` and upvalue indices `< U`; the key of `GetTabUp`,
//!    `GetField`, `SetTabUp`, `SetField` and `SelfK` is a string constant, the constant of
//!    `AddK` ... `IDivK` a number and of `BAndK`/`BOrK`/`BXorK` an integer; `Closure`'s
//!    prototype exists; `VarArg` only in vararg functions; `NewTable`'s array size at most
//!    what the function's `SetList`s can store (`n`, or 255 for `n == 0`, each), so a count
//!    in a chunk cannot make the VM allocate gigabytes.
//! 4. **Control flow.** Every successor of every instruction is inside the code (so `pc`
//!    never runs past the end: the last instruction returns or jumps). `LoadFalseSkip`
//!    continues two instructions on.
//! 5. **The stack top.** `Call`/`TailCall` with `b == 0`, `SetList` with `n == 0` and
//!    `Return` with `b == 0` use the top left by the instruction just before, so that one is a
//!    `Call` with `c == 0` or a `VarArg` with `c == 0` whose `a` is above theirs (`Return`:
//!    at or above), or, for `Return`, the `TailCall` with the same `a`; and no jump or skip
//!    lands on them. A `TailCall` is followed by `Return { a: same, b: 0 }` (a native callee
//!    returns through it).
//! 6. **Loops.** `ForPrep`/`ForLoop` and `TForPrep`/`TForCall`/`TForLoop` come in the
//!    compiler's shapes: `ForPrep` jumps past its `ForLoop`, which jumps back to just after
//!    the `ForPrep`, same `a`; `TForPrep` jumps forward to a `TForCall` followed by the
//!    `TForLoop` that jumps back to just after the `TForPrep`, same `a`. So neither
//!    preparation jumps backwards: their jumps (like `LoadFalseSkip`'s) spend no fuel, and a
//!    backward one could spin forever within one slice.
//! 7. **Numeric loop state.** `ForLoop` relies on the types `ForPrep` left in `R[a..=a+2]`,
//!    so: numeric loops nest properly; nothing in a loop's body writes `R[a..=a+2]` (a call
//!    counts as writing everything from its function register up) or captures them in a
//!    closure; no jump enters a body except through its `ForPrep` (or from within it).
//! 8. **Open upvalues and to-be-closed variables.** A native call truncates the stack above
//!    its arguments and a returning callee closes to-be-closed variables from its base up, so
//!    at a `Call`/`TailCall` (function register `f`), a `TForCall` (`f = a + 4`) and a
//!    `ForPrep` (`f = a`) no register `>= f` may have an open upvalue or be marked to be
//!    closed, and at a `TailCall` nothing may be marked to be closed at all. This is a
//!    forward data-flow over the control-flow graph, one set of registers of each kind per
//!    instruction: `Closure` opens the registers it captures, `Tbc` and `TForPrep` mark
//!    theirs, `Close { a }` closes everything from `a` up; where paths join, the sets unite.
//!
//! Time is linear in the size of the prototype: rules 1-7 are single passes, and in rule 8
//! an instruction's sets only grow, so it is revisited at most 2 × 256 times (each visit a
//! few word operations).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::ops::op_name;
use crate::bytecode::Op;
use crate::number::int_digits;
use crate::proto::{Constant, FunctionProto};

/// How deep prototypes may nest below the main function (the compiler's syntax limit is
/// lower), so loading and verifying never recurse far.
pub const MAX_DEPTH: usize = 200;

/// Most upvalues a function may have (their indices are bytes; lua5.4's limit too).
const MAX_UPVALUES: usize = 255;

/// Checks a prototype and every prototype nested in it. The error says which function and
/// instruction break which rule.
pub fn verify(main: &FunctionProto) -> Result<(), String> {
    let mut pending = vec![(main, 0usize)];
    while let Some((proto, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return Err(String::from("functions nested too deeply"));
        }
        Checker::new(proto).check().map_err(|e| {
            let function = if proto.line_defined == 0 {
                message("main function")
            } else {
                message("function at line ").num(proto.line_defined.into())
            };
            String::from(function.text(": ").text(&e))
        })?;
        pending.extend(proto.protos.iter().map(|child| (child, depth + 1)));
    }
    Ok(())
}

/// What an instruction's constant operand must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Any,
    String,
    Number,
    Integer,
}

/// No numeric loop (in `loop_of`).
const NO_LOOP: u32 = u32::MAX;

/// A numeric for loop: its `ForPrep` at `prep`, its `ForLoop` at `end`, registers from `a`.
#[derive(Clone, Copy)]
struct NumericLoop {
    prep: usize,
    end: usize,
    a: usize,
}

struct Checker<'p> {
    p: &'p FunctionProto,
    code: &'p [Op],
    /// `max_stack`: registers are `0..regs`.
    regs: usize,
    /// Per nested prototype: the registers of this function it captures.
    captures: Vec<RegSet>,
}

/// Where control goes after an instruction: on to the next one, and/or to a jump target
/// (as computed, checked against the code's bounds separately).
#[derive(Clone, Copy)]
struct Flow {
    next: bool,
    jump: Option<i64>,
}

impl Flow {
    /// The instructions control may go to from `pc`, as an array, not a chained iterator
    /// (each adapter costs the module code of its own).
    fn successors(self, pc: usize) -> [Option<usize>; 2] {
        [self.next.then_some(pc + 1), self.jump.map(|t| t as usize)]
    }
}

fn flow(pc: usize, op: Op) -> Flow {
    let relative = |off: i32| Some(pc as i64 + 1 + i64::from(off));
    match op {
        Op::Return { .. } | Op::Return0 | Op::Return1 { .. } => Flow {
            next: false,
            jump: None,
        },
        Op::Jmp { off } | Op::TForPrep { off, .. } => Flow {
            next: false,
            jump: relative(off),
        },
        Op::LoadFalseSkip { .. } => Flow {
            next: false,
            jump: Some(pc as i64 + 2),
        },
        Op::Eq { off, .. }
        | Op::Lt { off, .. }
        | Op::Le { off, .. }
        | Op::EqK { off, .. }
        | Op::EqI { off, .. }
        | Op::LtI { off, .. }
        | Op::LeI { off, .. }
        | Op::GtI { off, .. }
        | Op::GeI { off, .. }
        | Op::Test { off, .. }
        | Op::TestSet { off, .. }
        | Op::ForPrep { off, .. }
        | Op::ForLoop { off, .. }
        | Op::TForLoop { off, .. } => Flow {
            next: true,
            jump: relative(off),
        },
        _ => Flow {
            next: true,
            jump: None,
        },
    }
}

/// The registers an instruction may overwrite in its own frame, as an inclusive range (a
/// call overwrites everything from its function register up: the callee's frame is there).
fn writes(op: Op) -> Option<(usize, usize)> {
    const ALL: usize = 255;
    let one = |a: u8| Some((usize::from(a), usize::from(a)));
    let from = |a: u8, extra: usize| Some((usize::from(a), usize::from(a) + extra));
    match op {
        Op::LoadNil { a, n } => from(a, usize::from(n)),
        Op::SelfK { a, .. } => from(a, 1),
        Op::Concat { a, n } => from(a, usize::from(n).saturating_sub(1)),
        Op::Call { a, .. } | Op::TailCall { a, .. } | Op::VarArg { a, c: 0 } => from(a, ALL),
        Op::VarArg { a, c } => from(a, usize::from(c).saturating_sub(2)),
        Op::ForPrep { a, .. } | Op::ForLoop { a, .. } => from(a, 3),
        Op::TForCall { a, .. } => Some((usize::from(a) + 4, ALL)),
        Op::TForLoop { a, .. } => Some((usize::from(a) + 2, usize::from(a) + 2)),
        Op::Move { a, .. }
        | Op::LoadI { a, .. }
        | Op::LoadF { a, .. }
        | Op::LoadK { a, .. }
        | Op::LoadFalse { a }
        | Op::LoadFalseSkip { a }
        | Op::LoadTrue { a }
        | Op::GetUpval { a, .. }
        | Op::GetTabUp { a, .. }
        | Op::GetTable { a, .. }
        | Op::GetInt { a, .. }
        | Op::GetField { a, .. }
        | Op::NewTable { a, .. }
        | Op::AddI { a, .. }
        | Op::AddK { a, .. }
        | Op::SubK { a, .. }
        | Op::MulK { a, .. }
        | Op::ModK { a, .. }
        | Op::PowK { a, .. }
        | Op::DivK { a, .. }
        | Op::IDivK { a, .. }
        | Op::BAndK { a, .. }
        | Op::BOrK { a, .. }
        | Op::BXorK { a, .. }
        | Op::ShrI { a, .. }
        | Op::ShlI { a, .. }
        | Op::Add { a, .. }
        | Op::Sub { a, .. }
        | Op::Mul { a, .. }
        | Op::Mod { a, .. }
        | Op::Pow { a, .. }
        | Op::Div { a, .. }
        | Op::IDiv { a, .. }
        | Op::BAnd { a, .. }
        | Op::BOr { a, .. }
        | Op::BXor { a, .. }
        | Op::Shl { a, .. }
        | Op::Shr { a, .. }
        | Op::Unm { a, .. }
        | Op::BNot { a, .. }
        | Op::Not { a, .. }
        | Op::Len { a, .. }
        | Op::TestSet { a, .. }
        | Op::Closure { a, .. } => one(a),
        _ => None,
    }
}

/// A set of registers.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct RegSet([u64; 4]);

impl RegSet {
    /// The registers `lo..=hi` (at most up to 255).
    fn range(lo: usize, hi: usize) -> RegSet {
        let mut words = [0u64; 4];
        for (w, word) in words.iter_mut().enumerate() {
            let (first, last) = (lo.max(w * 64), hi.min(w * 64 + 63));
            if first <= last {
                let bits = last - first + 1;
                let ones = if bits == 64 {
                    u64::MAX
                } else {
                    (1 << bits) - 1
                };
                *word = ones << (first - w * 64);
            }
        }
        RegSet(words)
    }

    fn union(mut self, other: RegSet) -> RegSet {
        self.insert(other);
        self
    }

    // Indexed loops: zipping the words costs the module an adapter of its own.
    fn insert(&mut self, other: RegSet) {
        for w in 0..4 {
            self.0[w] |= other.0[w];
        }
    }

    fn remove(&mut self, other: RegSet) {
        for w in 0..4 {
            self.0[w] &= !other.0[w];
        }
    }

    fn meets(&self, other: RegSet) -> bool {
        (0..4).any(|w| self.0[w] & other.0[w] != 0)
    }

    /// The lowest register in both sets.
    fn first_common(&self, other: RegSet) -> Option<usize> {
        (0..4).find_map(|w| {
            let both = self.0[w] & other.0[w];
            (both != 0).then(|| w * 64 + both.trailing_zeros() as usize)
        })
    }
}

/// Per instruction, for rule 8: the registers that may have an open upvalue and those that
/// may be marked to be closed.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Open {
    upvals: RegSet,
    tbc: RegSet,
}

impl Open {
    fn join(self, other: Open) -> Open {
        Open {
            upvals: self.upvals.union(other.upvals),
            tbc: self.tbc.union(other.tbc),
        }
    }
}

impl<'p> Checker<'p> {
    fn new(p: &'p FunctionProto) -> Self {
        let captures = p
            .protos
            .iter()
            .map(|child| {
                let mut regs = RegSet::default();
                for u in child.upvalues.iter().filter(|u| u.in_stack) {
                    let r = usize::from(u.index);
                    regs.insert(RegSet::range(r, r));
                }
                regs
            })
            .collect();
        Checker {
            p,
            code: &p.code,
            regs: usize::from(p.max_stack),
            captures,
        }
    }

    fn check(&self) -> Result<(), String> {
        self.shape()?;
        let targets = self.operands_and_flow()?;
        self.sequences(&targets)?;
        let (loops, loop_of) = self.numeric_loops()?;
        self.loop_entries(&loops, &loop_of)?;
        self.open_registers()
    }

    /// Rules 1 and 2.
    fn shape(&self) -> Result<(), String> {
        let p = self.p;
        let n = self.code.len();
        if n == 0 {
            return Err(String::from("no code"));
        }
        if usize::from(p.num_params) > self.regs {
            return Err(message("")
                .num(p.num_params.into())
                .text(" parameters but ")
                .num(self.regs as i64)
                .text(" registers")
                .into());
        }
        if p.upvalues.len() > MAX_UPVALUES {
            return Err(message("")
                .num(p.upvalues.len() as i64)
                .text(" upvalues")
                .into());
        }
        if !p.lines.is_empty() && p.lines.len() != n {
            return Err(message("")
                .num(p.lines.len() as i64)
                .text(" lines for ")
                .num(n as i64)
                .text(" instructions")
                .into());
        }
        for (i, l) in p.locals.iter().enumerate() {
            if usize::from(l.reg) >= self.regs || l.start_pc > l.end_pc || l.end_pc as usize > n {
                return Err(message("local variable ")
                    .num(i as i64)
                    .text(" in register ")
                    .num(l.reg.into())
                    .text(" from ")
                    .num(l.start_pc.into())
                    .text(" to ")
                    .num(l.end_pc.into())
                    .into());
            }
        }
        for (i, child) in p.protos.iter().enumerate() {
            for (j, u) in child.upvalues.iter().enumerate() {
                let limit = if u.in_stack {
                    self.regs
                } else {
                    p.upvalues.len()
                };
                if usize::from(u.index) >= limit {
                    let place = if u.in_stack { "register" } else { "upvalue" };
                    return Err(message("function ")
                        .num(i as i64)
                        .text(" takes upvalue ")
                        .num(j as i64)
                        .text(" from ")
                        .text(place)
                        .text(" ")
                        .num(u.index.into())
                        .text(" of ")
                        .num(limit as i64)
                        .into());
                }
            }
        }
        Ok(())
    }

    /// Rules 3 and 4. Returns which instructions are jumped or skipped to.
    fn operands_and_flow(&self) -> Result<Vec<bool>, String> {
        let n = self.code.len();
        let list_capacity: u64 = self
            .code
            .iter()
            .map(|op| match *op {
                Op::SetList { n: 0, .. } => 255,
                Op::SetList { n, .. } => u64::from(n),
                _ => 0,
            })
            .sum();
        let mut targets = vec![false; n];
        for (pc, &op) in self.code.iter().enumerate() {
            let at = |what: String| at_instruction(pc, op, &what);
            self.operands(op, list_capacity).map_err(at)?;
            let f = flow(pc, op);
            if f.next && pc + 1 >= n {
                return Err(at(String::from("runs past the end of the code")));
            }
            if let Some(t) = f.jump {
                if t < 0 || t >= n as i64 {
                    let what = message("jumps to ").num(t).text(", outside the code");
                    return Err(at(what.into()));
                }
                targets[t as usize] = true;
            }
        }
        Ok(targets)
    }

    /// Rule 3 for one instruction.
    fn operands(&self, op: Op, list_capacity: u64) -> Result<(), String> {
        let reg = |r: u8| self.reg_range(usize::from(r), 1);
        let range = |r: u8, count: usize| self.reg_range(usize::from(r), count);
        let konst = |k: u32| self.konst(k, Want::Any);
        let string_k = |k: u32| self.konst(k, Want::String);
        let number_k = |k: u32| self.konst(k, Want::Number);
        let integer_k = |k: u32| self.konst(k, Want::Integer);
        let upval = |u: u8| self.upval(u);
        let rk = |kc: bool, c: u8| {
            if kc {
                konst(u32::from(c))
            } else {
                reg(c)
            }
        };
        // Values from `a` on: `count` of them, all within the registers or ending at `R`.
        let values = |a: u8, count: usize| {
            if count == 0 {
                self.reg_range(usize::from(a), 0)
            } else {
                range(a, count)
            }
        };
        match op {
            Op::Move { a, b }
            | Op::Unm { a, b }
            | Op::BNot { a, b }
            | Op::Not { a, b }
            | Op::Len { a, b }
            | Op::AddI { a, b, .. }
            | Op::ShrI { a, b, .. }
            | Op::ShlI { a, b, .. }
            | Op::GetInt { a, b, .. }
            | Op::Eq { a, b, .. }
            | Op::Lt { a, b, .. }
            | Op::Le { a, b, .. }
            | Op::TestSet { a, b, .. } => {
                reg(a)?;
                reg(b)
            }
            Op::LoadI { a, .. }
            | Op::LoadF { a, .. }
            | Op::LoadFalse { a }
            | Op::LoadFalseSkip { a }
            | Op::LoadTrue { a }
            | Op::Tbc { a }
            | Op::EqI { a, .. }
            | Op::LtI { a, .. }
            | Op::LeI { a, .. }
            | Op::GtI { a, .. }
            | Op::GeI { a, .. }
            | Op::Test { a, .. }
            | Op::Return1 { a } => reg(a),
            Op::LoadK { a, k } => {
                reg(a)?;
                konst(k)
            }
            Op::EqK { a, c, .. } => {
                reg(a)?;
                konst(u32::from(c))
            }
            Op::LoadNil { a, n } => range(a, usize::from(n) + 1),
            Op::GetUpval { a, b } | Op::SetUpval { a, b } => {
                reg(a)?;
                upval(b)
            }
            Op::GetTabUp { a, b, k } => {
                reg(a)?;
                upval(b)?;
                string_k(k)
            }
            Op::GetField { a, b, k } => {
                reg(a)?;
                reg(b)?;
                string_k(k)
            }
            Op::SelfK { a, b, k } => {
                range(a, 2)?;
                reg(b)?;
                string_k(k)
            }
            Op::GetTable { a, b, c }
            | Op::Add { a, b, c }
            | Op::Sub { a, b, c }
            | Op::Mul { a, b, c }
            | Op::Mod { a, b, c }
            | Op::Pow { a, b, c }
            | Op::Div { a, b, c }
            | Op::IDiv { a, b, c }
            | Op::BAnd { a, b, c }
            | Op::BOr { a, b, c }
            | Op::BXor { a, b, c }
            | Op::Shl { a, b, c }
            | Op::Shr { a, b, c } => {
                reg(a)?;
                reg(b)?;
                reg(c)
            }
            Op::SetTabUp { a, c, kc, k } => {
                upval(a)?;
                rk(kc, c)?;
                string_k(k)
            }
            Op::SetTable { a, b, c, kc } => {
                reg(a)?;
                reg(b)?;
                rk(kc, c)
            }
            Op::SetInt { a, c, kc, .. } => {
                reg(a)?;
                rk(kc, c)
            }
            Op::SetField { a, c, kc, k } => {
                reg(a)?;
                rk(kc, c)?;
                string_k(k)
            }
            Op::NewTable { a, array, .. } => {
                reg(a)?;
                if u64::from(array) > list_capacity {
                    return Err(message("array size ")
                        .num(array.into())
                        .text(" but the function's SetLists store at most ")
                        .num(list_capacity as i64)
                        .into());
                }
                Ok(())
            }
            Op::AddK { a, b, k }
            | Op::SubK { a, b, k }
            | Op::MulK { a, b, k }
            | Op::ModK { a, b, k }
            | Op::PowK { a, b, k }
            | Op::DivK { a, b, k }
            | Op::IDivK { a, b, k } => {
                reg(a)?;
                reg(b)?;
                number_k(k)
            }
            Op::BAndK { a, b, k } | Op::BOrK { a, b, k } | Op::BXorK { a, b, k } => {
                reg(a)?;
                reg(b)?;
                integer_k(k)
            }
            Op::Concat { a, n } => {
                if n < 2 {
                    return Err(String::from("fewer than two values"));
                }
                range(a, usize::from(n))
            }
            Op::Close { a } => values(a, 0),
            Op::Jmp { .. } | Op::Return0 => Ok(()),
            Op::Call { a, b, c } => {
                reg(a)?;
                if b > 0 {
                    range(a, usize::from(b))?;
                }
                if c > 0 {
                    values(a, usize::from(c) - 1)?;
                }
                Ok(())
            }
            Op::TailCall { a, b } => {
                reg(a)?;
                if b > 0 {
                    range(a, usize::from(b))?;
                }
                Ok(())
            }
            Op::Return { a, b } => {
                if b == 0 {
                    reg(a)
                } else {
                    values(a, usize::from(b) - 1)
                }
            }
            Op::ForPrep { a, .. } | Op::ForLoop { a, .. } | Op::TForPrep { a, .. } => range(a, 4),
            Op::TForCall { a, c } => {
                if c == 0 {
                    return Err(String::from("no loop variables"));
                }
                range(a, 4 + usize::from(c).max(3))
            }
            Op::TForLoop { a, .. } => range(a, 5),
            Op::SetList { a, n, .. } => range(a, usize::from(n) + 1),
            Op::Closure { a, p } => {
                reg(a)?;
                if p as usize >= self.p.protos.len() {
                    let n = self.p.protos.len() as i64;
                    return Err(message("function ")
                        .num(p.into())
                        .text(" of ")
                        .num(n)
                        .into());
                }
                Ok(())
            }
            Op::VarArg { a, c } => {
                if !self.p.is_vararg {
                    return Err(String::from("varargs in a function without them"));
                }
                reg(a)?;
                if c > 0 {
                    values(a, usize::from(c) - 1)?;
                }
                Ok(())
            }
        }
    }

    /// Constant `k` exists and is of the kind wanted. Out of line, like the other operand
    /// checks: inlined at each of the operands' sites, their messages cost kilobytes.
    #[inline(never)]
    fn konst(&self, k: u32, want: Want) -> Result<(), String> {
        let Some(c) = self.p.constants.get(k as usize) else {
            let n = self.p.constants.len() as i64;
            return Err(message("constant ")
                .num(k.into())
                .text(" of ")
                .num(n)
                .into());
        };
        let (fits, what) = match want {
            Want::Any => (true, ""),
            Want::String => (matches!(c, Constant::String(_)), "a string"),
            Want::Number => (
                matches!(c, Constant::Integer(_) | Constant::Float(_)),
                "a number",
            ),
            Want::Integer => (matches!(c, Constant::Integer(_)), "an integer"),
        };
        if fits {
            return Ok(());
        }
        let start = if want == Want::String {
            "key constant "
        } else {
            "constant "
        };
        Err(message(start)
            .num(k.into())
            .text(" is not ")
            .text(what)
            .into())
    }

    #[inline(never)]
    fn upval(&self, u: u8) -> Result<(), String> {
        if usize::from(u) < self.p.upvalues.len() {
            Ok(())
        } else {
            let n = self.p.upvalues.len() as i64;
            Err(message("upvalue ").num(u.into()).text(" of ").num(n).into())
        }
    }

    /// `count` registers from `first` lie within the frame (`count == 0`: `first <= R`).
    #[inline(never)]
    fn reg_range(&self, first: usize, count: usize) -> Result<(), String> {
        if first + count <= self.regs && (count > 0 || first <= self.regs) {
            Ok(())
        } else if count <= 1 {
            Err(message("register ")
                .num(first as i64)
                .text(" of ")
                .num(self.regs as i64)
                .into())
        } else {
            Err(message("registers ")
                .num(first as i64)
                .text("..")
                .num((first + count - 1) as i64)
                .text(" of ")
                .num(self.regs as i64)
                .into())
        }
    }

    /// Rules 5 and 6: instructions that must come in sequences.
    fn sequences(&self, targets: &[bool]) -> Result<(), String> {
        let code = self.code;
        let n = code.len();
        let at_pc = |pc: usize| code.get(pc).copied();
        for (pc, &op) in code.iter().enumerate() {
            let at = |what: &str| at_instruction(pc, op, what);
            let uses_top = match op {
                Op::Call { a, b: 0, .. }
                | Op::TailCall { a, b: 0 }
                | Op::SetList { a, n: 0, .. } => Some((a, false)),
                Op::Return { a, b: 0 } => Some((a, true)),
                _ => None,
            };
            if let Some((a, may_equal)) = uses_top {
                if targets[pc] {
                    return Err(at("uses the stack top but is a jump target"));
                }
                let sets_top = match pc.checked_sub(1).and_then(at_pc) {
                    Some(Op::Call { a: pa, c: 0, .. } | Op::VarArg { a: pa, c: 0 }) => {
                        a < pa || (may_equal && a == pa)
                    }
                    Some(Op::TailCall { a: pa, .. }) => may_equal && a == pa,
                    _ => false,
                };
                if !sets_top {
                    return Err(at(
                        "uses the stack top, but the instruction before does not leave one above its register",
                    ));
                }
            }
            // `matches!` rather than `==` on `Op`: the derived comparison of every variant
            // would cost the module kilobytes.
            let broken = match op {
                Op::TailCall { a, .. } => {
                    (!matches!(at_pc(pc + 1), Some(Op::Return { a: ra, b: 0 }) if ra == a))
                        .then_some("not followed by a Return of its results")
                }
                Op::ForPrep { a, off } => {
                    let end = pc as i64 + i64::from(off);
                    let paired = off >= 1
                        && end < n as i64
                        && matches!(at_pc(end as usize), Some(Op::ForLoop { a: la, off: lo }) if la == a && lo == -off);
                    (!paired).then_some("does not jump past a ForLoop that comes back to it")
                }
                Op::ForLoop { a, off } => {
                    let prep = pc as i64 + i64::from(off);
                    let paired = off <= -1
                        && prep >= 0
                        && matches!(at_pc(prep as usize), Some(Op::ForPrep { a: pa, off: po }) if pa == a && po == -off);
                    (!paired).then_some("does not jump back after its ForPrep")
                }
                Op::TForPrep { a, off } => {
                    let call = pc as i64 + 1 + i64::from(off);
                    let back = pc as i64 - call - 1;
                    let paired = off >= 0
                        && call + 1 < n as i64
                        && matches!(at_pc(call as usize), Some(Op::TForCall { a: ca, .. }) if ca == a)
                        && matches!(at_pc(call as usize + 1), Some(Op::TForLoop { a: la, off: lo }) if la == a && i64::from(lo) == back);
                    (!paired).then_some(
                        "does not jump forward to a TForCall and TForLoop that come back to it",
                    )
                }
                Op::TForCall { a, .. } => {
                    let paired =
                        matches!(at_pc(pc + 1), Some(Op::TForLoop { a: la, .. }) if la == a);
                    (!paired).then_some("not followed by its TForLoop")
                }
                Op::TForLoop { a, off } => {
                    let prep = pc as i64 + i64::from(off);
                    let after_call = matches!(
                        pc.checked_sub(1).and_then(at_pc),
                        Some(Op::TForCall { a: ca, .. }) if ca == a
                    );
                    let paired = after_call
                        && prep >= 0
                        && matches!(at_pc(prep as usize), Some(Op::TForPrep { a: pa, off: po }) if pa == a && i64::from(po) == pc as i64 - 2 - prep);
                    (!paired).then_some("does not jump back after its TForPrep")
                }
                _ => None,
            };
            if let Some(what) = broken {
                return Err(at(what));
            }
        }
        Ok(())
    }

    /// Rule 7, first part: finds the numeric loops (properly nested), checks that their
    /// bodies leave the loop state alone, and maps each instruction to the innermost loop
    /// whose body (`prep + 1 ..= end`) holds it.
    fn numeric_loops(&self) -> Result<(Vec<NumericLoop>, Vec<u32>), String> {
        let mut loops: Vec<NumericLoop> = Vec::new();
        let mut loop_of = vec![NO_LOOP; self.code.len()];
        let mut active: Vec<u32> = Vec::new();
        // The state registers of the active loops (disjoint, as the rule keeps them).
        let mut guarded = RegSet::default();
        for (pc, &op) in self.code.iter().enumerate() {
            let at = |what: &str| at_instruction(pc, op, what);
            if let Some(&l) = active.last() {
                loop_of[pc] = l;
                let lp = loops[l as usize];
                if lp.end == pc {
                    // A loop's own `ForLoop` updates its state.
                    active.pop();
                    guarded.remove(RegSet::range(lp.a, lp.a + 2));
                }
            }
            if let Some((lo, hi)) = writes(op) {
                if guarded.meets(RegSet::range(lo, hi)) {
                    return Err(at("overwrites the state of a numeric for loop it is in"));
                }
            }
            if let Op::Closure { p, .. } = op {
                let child = &self.p.protos[p as usize];
                let captures_state = child.upvalues.iter().any(|u| {
                    let r = usize::from(u.index);
                    u.in_stack && guarded.meets(RegSet::range(r, r))
                });
                if captures_state {
                    return Err(at("captures the state of a numeric for loop it is in"));
                }
            }
            if let Op::ForPrep { a, off } = op {
                let lp = NumericLoop {
                    prep: pc,
                    end: pc + off as usize,
                    a: usize::from(a),
                };
                if let Some(&outer) = active.last() {
                    if lp.end >= loops[outer as usize].end {
                        return Err(at("overlaps the numeric for loop it starts in"));
                    }
                }
                active.push(loops.len() as u32);
                loops.push(lp);
                guarded.insert(RegSet::range(lp.a, lp.a + 2));
            }
        }
        Ok((loops, loop_of))
    }

    /// Rule 7, second part: no edge enters a loop body from outside it.
    fn loop_entries(&self, loops: &[NumericLoop], loop_of: &[u32]) -> Result<(), String> {
        for (pc, &op) in self.code.iter().enumerate() {
            for &dst in &flow(pc, op).successors(pc) {
                let Some(dst) = dst else { continue };
                let l = loop_of[dst];
                if l == NO_LOOP {
                    continue;
                }
                let lp = loops[l as usize];
                if !(lp.prep..=lp.end).contains(&pc) {
                    let what = message("enters the numeric for loop at ")
                        .num(lp.prep as i64)
                        .text(" from outside");
                    return Err(at_instruction(pc, op, &String::from(what)));
                }
            }
        }
        Ok(())
    }

    /// Rule 8.
    fn open_registers(&self) -> Result<(), String> {
        let code = self.code;
        let n = code.len();
        let mut state = vec![Open::default(); n];
        let mut reached = vec![false; n];
        let mut queued = vec![false; n];
        let mut work = vec![0usize];
        reached[0] = true;
        queued[0] = true;
        while let Some(pc) = work.pop() {
            queued[pc] = false;
            let op = code[pc];
            let mut out = state[pc];
            match op {
                Op::Closure { p, .. } => out.upvals.insert(self.captures[p as usize]),
                Op::Tbc { a } => out
                    .tbc
                    .insert(RegSet::range(usize::from(a), usize::from(a))),
                Op::TForPrep { a, .. } => {
                    let closing = usize::from(a) + 3;
                    out.tbc.insert(RegSet::range(closing, closing));
                }
                Op::Close { a } => {
                    let closed = RegSet::range(usize::from(a), 255);
                    out.upvals.remove(closed);
                    out.tbc.remove(closed);
                }
                _ => {}
            }
            for &dst in &flow(pc, op).successors(pc) {
                let Some(dst) = dst else { continue };
                let joined = if reached[dst] {
                    state[dst].join(out)
                } else {
                    out
                };
                if !reached[dst] || joined != state[dst] {
                    reached[dst] = true;
                    state[dst] = joined;
                    if !queued[dst] {
                        queued[dst] = true;
                        work.push(dst);
                    }
                }
            }
        }
        for (pc, &op) in code.iter().enumerate() {
            if !reached[pc] {
                continue;
            }
            let s = state[pc];
            let (function, tbc_from) = match op {
                Op::Call { a, .. } | Op::ForPrep { a, .. } => (usize::from(a), usize::from(a)),
                Op::TailCall { a, .. } => (usize::from(a), 0),
                Op::TForCall { a, .. } => (usize::from(a) + 4, usize::from(a) + 4),
                _ => continue,
            };
            if let Some(r) = s.upvals.first_common(RegSet::range(function, 255)) {
                let what = message("register ")
                    .num(r as i64)
                    .text(" may still have an open upvalue");
                return Err(at_instruction(pc, op, &String::from(what)));
            }
            if let Some(r) = s.tbc.first_common(RegSet::range(tbc_from, 255)) {
                let what = message("register ")
                    .num(r as i64)
                    .text(" may still be marked to be closed");
                return Err(at_instruction(pc, op, &String::from(what)));
            }
        }
        Ok(())
    }
}

/// `instruction <pc> (<opcode>): <what>`.
fn at_instruction(pc: usize, op: Op, what: &str) -> String {
    message("instruction ")
        .num(pc as i64)
        .text(" (")
        .text(op_name(op))
        .text("): ")
        .text(what)
        .into()
}

/// A message put together from text and numbers. `format!` at each of the verifier's thirty
/// messages would cost the module a few kilobytes of formatting code.
struct Message(String);

fn message(text: &str) -> Message {
    Message(String::from(text))
}

impl Message {
    #[inline(never)]
    fn text(mut self, text: &str) -> Message {
        self.0.push_str(text);
        self
    }

    #[inline(never)]
    fn num(mut self, n: i64) -> Message {
        let mut digits = [0; 20];
        self.0
            .extend(int_digits(n, &mut digits).iter().map(|&d| char::from(d)));
        self
    }
}

impl From<Message> for String {
    fn from(message: Message) -> String {
        message.0
    }
}
