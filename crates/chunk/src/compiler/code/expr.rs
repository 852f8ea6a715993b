//! Expression descriptors: what the parser knows about an expression it has read but whose
//! value is not necessarily in a register yet, and the ways to put it somewhere.

use super::{set_destination, ConstValue, NO_JUMP, NO_REGISTER};
use crate::bytecode::Op;
use crate::compiler::lexer::StrId;
use crate::compiler::parse::Parser;
use crate::compiler::SyntaxError;

/// Where an expression's value is, or how to get it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ExpKind {
    /// No value: an empty expression list.
    Void,
    Nil,
    True,
    False,
    /// Constant `K[k]`.
    K(u32),
    Float(f64),
    Int(i64),
    Str(StrId),
    /// In register `reg`, which the expression does not own the right to move.
    NonReloc(u32),
    /// A local variable: its register and its index among the function's variables.
    Local {
        reg: u32,
        var: u32,
    },
    Upvalue(u32),
    /// A compile-time constant variable: its index in the parser's variable list.
    Const(u32),
    /// `R[table][R[key]]`
    Indexed {
        table: u32,
        key: u32,
    },
    /// `Up[table][K[key]]`, a string key
    IndexUp {
        table: u32,
        key: u32,
    },
    /// `R[table][key]`, an integer key 0..=255
    IndexInt {
        table: u32,
        key: u32,
    },
    /// `R[table][K[key]]`, a string key
    IndexStr {
        table: u32,
        key: u32,
    },
    /// A comparison: the conditional instruction at this pc.
    Jump(usize),
    /// The result of the instruction at this pc, whose destination can still be chosen.
    Reloc(usize),
    /// An open call at this pc.
    Call(usize),
    /// `...` at this pc.
    VarArg(usize),
}

/// An expression: where its value is plus the jumps taken when it is true (`t`) or false
/// (`f`), for `and`, `or`, `not` and comparisons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ExpDesc {
    pub(crate) kind: ExpKind,
    pub(crate) t: i32,
    pub(crate) f: i32,
}

impl ExpDesc {
    pub(crate) fn new(kind: ExpKind) -> Self {
        ExpDesc {
            kind,
            t: NO_JUMP,
            f: NO_JUMP,
        }
    }

    pub(crate) fn has_jumps(&self) -> bool {
        self.t != self.f
    }

    /// Its integer value when it is an integer literal with no jumps.
    pub(crate) fn as_int(&self) -> Option<i64> {
        match self.kind {
            ExpKind::Int(i) if !self.has_jumps() => Some(i),
            _ => None,
        }
    }

    /// Whether it is a variable (something an assignment can store into).
    pub(crate) fn is_var(&self) -> bool {
        matches!(
            self.kind,
            ExpKind::Local { .. }
                | ExpKind::Upvalue(_)
                | ExpKind::Const(_)
                | ExpKind::Indexed { .. }
                | ExpKind::IndexUp { .. }
                | ExpKind::IndexInt { .. }
                | ExpKind::IndexStr { .. }
        )
    }

    pub(crate) fn is_indexed(&self) -> bool {
        matches!(
            self.kind,
            ExpKind::Indexed { .. }
                | ExpKind::IndexUp { .. }
                | ExpKind::IndexInt { .. }
                | ExpKind::IndexStr { .. }
        )
    }

    pub(crate) fn has_multiple_results(&self) -> bool {
        matches!(self.kind, ExpKind::Call(_) | ExpKind::VarArg(_))
    }
}

fn const_value_kind(value: ConstValue) -> ExpKind {
    match value {
        ConstValue::Nil => ExpKind::Nil,
        ConstValue::Boolean(true) => ExpKind::True,
        ConstValue::Boolean(false) => ExpKind::False,
        ConstValue::Int(i) => ExpKind::Int(i),
        ConstValue::Float(f) => ExpKind::Float(f),
        ConstValue::Str(s) => ExpKind::Str(s),
    }
}

impl Parser<'_> {
    /// The value of a constant expression, for `<const>` variables.
    pub(crate) fn exp_to_const(&self, e: &ExpDesc) -> Option<ConstValue> {
        if e.has_jumps() {
            return None;
        }
        match e.kind {
            ExpKind::False => Some(ConstValue::Boolean(false)),
            ExpKind::True => Some(ConstValue::Boolean(true)),
            ExpKind::Nil => Some(ConstValue::Nil),
            ExpKind::Str(s) => Some(ConstValue::Str(s)),
            ExpKind::Const(var) => Some(self.vars[var as usize].value),
            ExpKind::Int(i) => Some(ConstValue::Int(i)),
            ExpKind::Float(f) => Some(ConstValue::Float(f)),
            _ => None,
        }
    }

    /// Sets the number of results of an open call or vararg (`None`: all of them).
    pub(crate) fn set_returns(
        &mut self,
        e: &ExpDesc,
        results: Option<u32>,
    ) -> Result<(), SyntaxError> {
        let c = results.map_or(0, |n| (n + 1) as u8);
        match e.kind {
            ExpKind::Call(pc) => {
                if let Op::Call { c: calls, .. } = &mut self.fs.proto.code[pc] {
                    *calls = c;
                }
            }
            ExpKind::VarArg(pc) => {
                let a = self.fs.free_reg as u8;
                self.fs.proto.code[pc] = Op::VarArg { a, c };
                self.reserve_regs(1)?;
            }
            _ => debug_assert!(false, "setting the results of a single value"),
        }
        Ok(())
    }

    pub(crate) fn set_multiple_returns(&mut self, e: &ExpDesc) -> Result<(), SyntaxError> {
        self.set_returns(e, None)
    }

    /// Makes an open call or vararg produce exactly one value.
    pub(crate) fn set_one_return(&mut self, e: &mut ExpDesc) {
        match e.kind {
            ExpKind::Call(pc) => {
                if let Op::Call { a, .. } = self.fs.proto.code[pc] {
                    e.kind = ExpKind::NonReloc(u32::from(a));
                }
            }
            ExpKind::VarArg(pc) => {
                if let Op::VarArg { c, .. } = &mut self.fs.proto.code[pc] {
                    *c = 2;
                }
                e.kind = ExpKind::Reloc(pc);
            }
            _ => {}
        }
    }

    /// Turns a variable into a value (loading it if it is not in a register).
    pub(crate) fn discharge_vars(&mut self, e: &mut ExpDesc) {
        e.kind = match e.kind {
            ExpKind::Const(var) => const_value_kind(self.vars[var as usize].value),
            ExpKind::Local { reg, .. } => ExpKind::NonReloc(reg),
            ExpKind::Upvalue(index) => ExpKind::Reloc(self.emit(Op::GetUpval {
                a: 0,
                b: index as u8,
            })),
            ExpKind::IndexUp { table, key } => ExpKind::Reloc(self.emit(Op::GetTabUp {
                a: 0,
                b: table as u8,
                k: key,
            })),
            ExpKind::IndexInt { table, key } => {
                self.free_register(table);
                ExpKind::Reloc(self.emit(Op::GetInt {
                    a: 0,
                    b: table as u8,
                    c: key as u8,
                }))
            }
            ExpKind::IndexStr { table, key } => {
                self.free_register(table);
                ExpKind::Reloc(self.emit(Op::GetField {
                    a: 0,
                    b: table as u8,
                    k: key,
                }))
            }
            ExpKind::Indexed { table, key } => {
                self.free_registers(table, key);
                ExpKind::Reloc(self.emit(Op::GetTable {
                    a: 0,
                    b: table as u8,
                    c: key as u8,
                }))
            }
            ExpKind::Call(_) | ExpKind::VarArg(_) => {
                self.set_one_return(e);
                return;
            }
            other => other,
        };
    }

    /// Puts the value of `e` (its jumps aside) in register `reg`.
    fn discharge_to_reg(&mut self, e: &mut ExpDesc, reg: u32) {
        self.discharge_vars(e);
        let a = reg as u8;
        match e.kind {
            ExpKind::Nil => self.load_nil(reg, 1),
            ExpKind::False => {
                self.emit(Op::LoadFalse { a });
            }
            ExpKind::True => {
                self.emit(Op::LoadTrue { a });
            }
            ExpKind::Str(s) => {
                let k = self.string_constant(s);
                self.emit(Op::LoadK { a, k });
            }
            ExpKind::K(k) => {
                self.emit(Op::LoadK { a, k });
            }
            ExpKind::Float(f) => self.load_float(reg, f),
            ExpKind::Int(i) => self.load_int(reg, i),
            ExpKind::Reloc(pc) => set_destination(&mut self.fs.proto.code[pc], a),
            ExpKind::NonReloc(source) => {
                if source != reg {
                    self.emit(Op::Move { a, b: source as u8 });
                }
            }
            _ => {
                debug_assert!(
                    matches!(e.kind, ExpKind::Jump(_)),
                    "discharging {:?}",
                    e.kind
                );
                return;
            }
        }
        e.kind = ExpKind::NonReloc(reg);
    }

    fn discharge_to_any_reg(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        if !matches!(e.kind, ExpKind::NonReloc(_)) {
            self.reserve_regs(1)?;
            let reg = self.fs.free_reg - 1;
            self.discharge_to_reg(e, reg);
        }
        Ok(())
    }

    /// Emits a boolean load that may be a jump target.
    fn code_load_bool(&mut self, op: Op) -> usize {
        self.fs.get_label();
        self.emit(op)
    }

    /// Puts the final value of `e`, jumps included, in register `reg`.
    pub(crate) fn exp_to_reg(&mut self, e: &mut ExpDesc, reg: u32) {
        self.discharge_to_reg(e, reg);
        if let ExpKind::Jump(pc) = e.kind {
            self.fs.concat_jumps(&mut e.t, pc as i32);
        }
        if e.has_jumps() {
            let a = reg as u8;
            let mut load_false = None;
            let mut load_true = None;
            if self.fs.needs_value(e.t) || self.fs.needs_value(e.f) {
                let skip = if matches!(e.kind, ExpKind::Jump(_)) {
                    NO_JUMP
                } else {
                    self.jump() as i32
                };
                load_false = Some(self.code_load_bool(Op::LoadFalseSkip { a }));
                load_true = Some(self.code_load_bool(Op::LoadTrue { a }));
                self.fs.patch_to_here(skip);
            }
            let end = self.fs.get_label();
            self.fs
                .patch_list_aux(e.f, end, Some(a), load_false.unwrap_or(end));
            self.fs
                .patch_list_aux(e.t, end, Some(a), load_true.unwrap_or(end));
        }
        e.t = NO_JUMP;
        e.f = NO_JUMP;
        e.kind = ExpKind::NonReloc(reg);
    }

    /// Puts the value of `e` in the next free register.
    pub(crate) fn exp_to_next_reg(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        self.discharge_vars(e);
        self.free_exp(e);
        self.reserve_regs(1)?;
        let reg = self.fs.free_reg - 1;
        self.exp_to_reg(e, reg);
        Ok(())
    }

    /// Puts the value of `e` in some register and returns it.
    pub(crate) fn exp_to_any_reg(&mut self, e: &mut ExpDesc) -> Result<u32, SyntaxError> {
        self.discharge_vars(e);
        if let ExpKind::NonReloc(reg) = e.kind {
            if !e.has_jumps() {
                return Ok(reg);
            }
            // A temporary can take the jumps' values; a local variable cannot.
            if reg >= self.var_stack_level() {
                self.exp_to_reg(e, reg);
                return Ok(reg);
            }
        }
        self.exp_to_next_reg(e)?;
        match e.kind {
            ExpKind::NonReloc(reg) => Ok(reg),
            _ => Ok(0),
        }
    }

    /// Puts `e` in a register unless it is an upvalue (which can be indexed directly).
    pub(crate) fn exp_to_any_reg_or_upvalue(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        if !matches!(e.kind, ExpKind::Upvalue(_)) || e.has_jumps() {
            self.exp_to_any_reg(e)?;
        }
        Ok(())
    }

    /// Makes `e` a value: in a register or a constant.
    pub(crate) fn exp_to_val(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        if e.has_jumps() {
            self.exp_to_any_reg(e)?;
        } else {
            self.discharge_vars(e);
        }
        Ok(())
    }

    /// The constant index of a literal `e`, added to the constants if needed.
    fn literal_constant(&mut self, e: &ExpDesc) -> Option<u32> {
        if e.has_jumps() {
            return None;
        }
        Some(match e.kind {
            ExpKind::True => self.bool_constant(true),
            ExpKind::False => self.bool_constant(false),
            ExpKind::Nil => self.nil_constant(),
            ExpKind::Int(i) => self.int_constant(i),
            ExpKind::Float(f) => self.float_constant(f),
            ExpKind::Str(s) => self.string_constant(s),
            ExpKind::K(k) => k,
            _ => return None,
        })
    }

    /// Makes a literal `e` a `K` expression when its index fits an `RK` operand.
    pub(crate) fn exp_to_k(&mut self, e: &mut ExpDesc) -> bool {
        match self.literal_constant(e) {
            Some(k) if k <= super::MAX_RK_INDEX => {
                e.kind = ExpKind::K(k);
                true
            }
            _ => false,
        }
    }

    /// Makes `e` an `RK` operand: returns the operand and whether it is a constant.
    pub(crate) fn exp_to_rk(&mut self, e: &mut ExpDesc) -> Result<(u8, bool), SyntaxError> {
        if self.exp_to_k(e) {
            if let ExpKind::K(k) = e.kind {
                return Ok((k as u8, true));
            }
        }
        Ok((self.exp_to_any_reg(e)? as u8, false))
    }

    /// Frees the register of `e` if it is a temporary.
    pub(crate) fn free_exp(&mut self, e: &ExpDesc) {
        if let ExpKind::NonReloc(reg) = e.kind {
            self.free_register(reg);
        }
    }

    /// Frees the temporaries of two expressions in the right order.
    pub(crate) fn free_exps(&mut self, e1: &ExpDesc, e2: &ExpDesc) {
        match (e1.kind, e2.kind) {
            (ExpKind::NonReloc(r1), ExpKind::NonReloc(r2)) => self.free_registers(r1, r2),
            (ExpKind::NonReloc(r1), _) => self.free_register(r1),
            (_, ExpKind::NonReloc(r2)) => self.free_register(r2),
            _ => {}
        }
    }

    /// Stores the value of `ex` into the variable `var`.
    pub(crate) fn store_var(&mut self, var: &ExpDesc, ex: &mut ExpDesc) -> Result<(), SyntaxError> {
        match var.kind {
            ExpKind::Local { reg, .. } => {
                self.free_exp(ex);
                self.exp_to_reg(ex, reg);
                return Ok(());
            }
            ExpKind::Upvalue(index) => {
                let reg = self.exp_to_any_reg(ex)?;
                self.emit(Op::SetUpval {
                    a: reg as u8,
                    b: index as u8,
                });
            }
            ExpKind::IndexUp { table, key } => {
                let (c, kc) = self.exp_to_rk(ex)?;
                self.emit(Op::SetTabUp {
                    a: table as u8,
                    c,
                    kc,
                    k: key,
                });
            }
            ExpKind::IndexInt { table, key } => {
                let (c, kc) = self.exp_to_rk(ex)?;
                self.emit(Op::SetInt {
                    a: table as u8,
                    b: key as u8,
                    c,
                    kc,
                });
            }
            ExpKind::IndexStr { table, key } => {
                let (c, kc) = self.exp_to_rk(ex)?;
                self.emit(Op::SetField {
                    a: table as u8,
                    c,
                    kc,
                    k: key,
                });
            }
            ExpKind::Indexed { table, key } => {
                let (c, kc) = self.exp_to_rk(ex)?;
                self.emit(Op::SetTable {
                    a: table as u8,
                    b: key as u8,
                    c,
                    kc,
                });
            }
            _ => debug_assert!(false, "storing into {:?}", var.kind),
        }
        self.free_exp(ex);
        Ok(())
    }

    /// `e:key` before its arguments: the method in a new register and `e` as `self` after it.
    pub(crate) fn code_self(&mut self, e: &mut ExpDesc, key: StrId) -> Result<(), SyntaxError> {
        let object = self.exp_to_any_reg(e)?;
        self.free_exp(e);
        let base = self.fs.free_reg;
        e.kind = ExpKind::NonReloc(base);
        self.reserve_regs(2)?;
        let k = self.string_constant(key);
        self.emit(Op::SelfK {
            a: base as u8,
            b: object as u8,
            k,
        });
        Ok(())
    }

    /// Turns `t` (in a register or an upvalue) and `key` into the indexed expression `t[key]`.
    pub(crate) fn indexed(
        &mut self,
        t: &mut ExpDesc,
        key: &mut ExpDesc,
    ) -> Result<(), SyntaxError> {
        if let ExpKind::Str(s) = key.kind {
            key.kind = ExpKind::K(self.string_constant(s));
        }
        let string_key = match key.kind {
            ExpKind::K(k) if !key.has_jumps() && self.is_string_constant(k) => Some(k),
            _ => None,
        };
        if matches!(t.kind, ExpKind::Upvalue(_)) && string_key.is_none() {
            self.exp_to_any_reg(t)?;
        }
        t.kind = match (t.kind, string_key) {
            (ExpKind::Upvalue(up), Some(k)) => ExpKind::IndexUp { table: up, key: k },
            (ExpKind::Local { reg, .. } | ExpKind::NonReloc(reg), _) => match string_key {
                Some(k) => ExpKind::IndexStr { table: reg, key: k },
                None => match key.as_int() {
                    Some(i @ 0..=255) => ExpKind::IndexInt {
                        table: reg,
                        key: i as u32,
                    },
                    _ => ExpKind::Indexed {
                        table: reg,
                        key: self.exp_to_any_reg(key)?,
                    },
                },
            },
            (other, _) => {
                debug_assert!(false, "indexing {:?}", other);
                other
            }
        };
        Ok(())
    }

    /// Emits a test that jumps when `e` is `cond`; returns the jump.
    fn jump_on_cond(&mut self, e: &mut ExpDesc, cond: bool) -> Result<usize, SyntaxError> {
        if let ExpKind::Reloc(pc) = e.kind {
            if let Op::Not { b, .. } = self.fs.proto.code[pc] {
                if pc + 1 == self.fs.pc() {
                    // `not x`: test x with the condition reversed instead.
                    self.remove_last_instruction();
                    return Ok(self.cond_jump(Op::Test {
                        a: b,
                        k: !cond,
                        off: NO_JUMP,
                    }));
                }
            }
        }
        self.discharge_to_any_reg(e)?;
        self.free_exp(e);
        let ExpKind::NonReloc(reg) = e.kind else {
            return Ok(self.cond_jump(Op::Test {
                a: 0,
                k: cond,
                off: NO_JUMP,
            }));
        };
        Ok(self.cond_jump(Op::TestSet {
            a: NO_REGISTER,
            b: reg as u8,
            k: cond,
            off: NO_JUMP,
        }))
    }

    /// Code that falls through when `e` is true and jumps (through `e.f`) when it is false.
    pub(crate) fn go_if_true(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        self.discharge_vars(e);
        let pc = match e.kind {
            ExpKind::Jump(pc) => {
                self.fs.negate_condition(pc);
                pc as i32
            }
            ExpKind::K(_)
            | ExpKind::Float(_)
            | ExpKind::Int(_)
            | ExpKind::Str(_)
            | ExpKind::True => NO_JUMP,
            _ => self.jump_on_cond(e, false)? as i32,
        };
        self.fs.concat_jumps(&mut e.f, pc);
        self.fs.patch_to_here(e.t);
        e.t = NO_JUMP;
        Ok(())
    }

    /// Code that falls through when `e` is false and jumps (through `e.t`) when it is true.
    pub(crate) fn go_if_false(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        self.discharge_vars(e);
        let pc = match e.kind {
            ExpKind::Jump(pc) => pc as i32,
            ExpKind::Nil | ExpKind::False => NO_JUMP,
            _ => self.jump_on_cond(e, true)? as i32,
        };
        self.fs.concat_jumps(&mut e.t, pc);
        self.fs.patch_to_here(e.f);
        e.f = NO_JUMP;
        Ok(())
    }

    /// `not e`, folding constants.
    pub(crate) fn code_not(&mut self, e: &mut ExpDesc) -> Result<(), SyntaxError> {
        match e.kind {
            ExpKind::Nil | ExpKind::False => e.kind = ExpKind::True,
            ExpKind::K(_)
            | ExpKind::Float(_)
            | ExpKind::Int(_)
            | ExpKind::Str(_)
            | ExpKind::True => e.kind = ExpKind::False,
            ExpKind::Jump(pc) => self.fs.negate_condition(pc),
            ExpKind::Reloc(_) | ExpKind::NonReloc(_) => {
                self.discharge_to_any_reg(e)?;
                self.free_exp(e);
                let b = match e.kind {
                    ExpKind::NonReloc(reg) => reg as u8,
                    _ => 0,
                };
                e.kind = ExpKind::Reloc(self.emit(Op::Not { a: 0, b }));
            }
            _ => debug_assert!(false, "'not' of {:?}", e.kind),
        }
        core::mem::swap(&mut e.f, &mut e.t);
        self.fs.remove_values(e.f);
        self.fs.remove_values(e.t);
        Ok(())
    }
}
