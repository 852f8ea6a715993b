//! Code generation: the state of a function being compiled and the emission of instructions,
//! registers, constants and jump lists. The parser drives it in one pass, as it reads.

mod expr;
mod operators;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;

pub(crate) use expr::{ExpDesc, ExpKind};
pub(crate) use operators::{BinOp, UnOp, UNARY_PRIORITY};

use super::lexer::StrId;
use super::parse::Parser;
use super::SyntaxError;
use crate::bytecode::Op;
use crate::proto::{Constant, FunctionProto};

/// The end of a jump list (and the offset of a jump not yet patched).
pub(crate) const NO_JUMP: i32 = -1;

/// Registers a function may use: lua5.4's limit, which also keeps every register in a `u8`.
const MAX_REGISTERS: u32 = 255;

/// Placeholder destination of a `TestSet` until its jump list is patched.
const NO_REGISTER: u8 = u8::MAX;

/// Largest constant index an `RK` operand or `EqK` can hold.
const MAX_RK_INDEX: u32 = 255;

/// Items of a table constructor stored per `SetList`.
pub(crate) const FIELDS_PER_FLUSH: u32 = 50;

/// What a variable is, for assignments and closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VarKind {
    Regular,
    /// `<const>` with a value only known at run time: it has a register.
    Const,
    /// `<close>`
    ToClose,
    /// `<const>` with a constant value: no register, uses are replaced by the value.
    CompileTimeConst,
}

/// The value of a compile-time constant variable.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ConstValue {
    Nil,
    Boolean(bool),
    Int(i64),
    Float(f64),
    Str(StrId),
}

/// Key for reusing constants: floats by bit pattern (so `1` and `1.0`, `0.0` and `-0.0`
/// stay distinct and NaN finds itself), strings by interned id.
#[derive(Clone, Copy)]
enum ConstKey {
    Nil,
    Boolean(bool),
    Int(i64),
    Float(u64),
    Str(StrId),
}

impl ConstKey {
    /// A tag and the payload's bytes: distinct for distinct keys.
    fn bytes(self) -> [u8; 9] {
        let (tag, payload) = match self {
            ConstKey::Nil => (0, 0),
            ConstKey::Boolean(b) => (1, u64::from(b)),
            ConstKey::Int(i) => (2, i as u64),
            ConstKey::Float(bits) => (3, bits),
            ConstKey::Str(id) => (4, u64::from(id)),
        };
        let mut key = [tag; 9];
        key[1..].copy_from_slice(&payload.to_le_bytes());
        key
    }
}

/// An upvalue of the function being compiled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Upvalue {
    pub(crate) name: StrId,
    pub(crate) in_stack: bool,
    pub(crate) index: u8,
    pub(crate) kind: VarKind,
}

/// A lexical block of the function being compiled.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    /// Active variables outside the block.
    pub(crate) active_vars: u32,
    /// First label and first pending goto of the block in the parser's lists.
    pub(crate) first_label: usize,
    pub(crate) first_goto: usize,
    /// Some variable of the block is captured by a closure or to be closed.
    pub(crate) has_upvalue: bool,
    pub(crate) is_loop: bool,
    /// Inside the scope of a to-be-closed variable (no tail calls there).
    pub(crate) inside_tbc: bool,
}

/// A function being compiled.
pub(crate) struct FuncState {
    pub(crate) proto: FunctionProto,
    /// By [`ConstKey::bytes`]: a map with the lexer's key type, so one map in the module.
    constant_index: BTreeMap<Box<[u8]>, u32>,
    pub(crate) upvalues: Vec<Upvalue>,
    /// Index in the parser's variable list of this function's first variable.
    pub(crate) first_local: usize,
    /// Index in the parser's label list of this function's first label.
    pub(crate) first_label: usize,
    /// Variables in scope, compile-time constants included.
    pub(crate) active_vars: u32,
    /// First free register.
    pub(crate) free_reg: u32,
    /// Last instruction that is a jump target (no peephole merge across it).
    pub(crate) last_target: usize,
    pub(crate) blocks: Vec<Block>,
}

impl FuncState {
    pub(crate) fn new(
        source: Rc<[u8]>,
        line_defined: u32,
        first_local: usize,
        first_label: usize,
    ) -> Self {
        FuncState {
            proto: FunctionProto {
                source,
                line_defined,
                last_line_defined: 0,
                num_params: 0,
                is_vararg: false,
                // Registers 0 and 1 are always valid, as in lua5.4.
                max_stack: 2,
                code: Vec::new(),
                lines: Vec::new(),
                constants: Vec::new(),
                protos: Vec::new(),
                upvalues: Vec::new(),
                locals: Vec::new(),
            },
            constant_index: BTreeMap::new(),
            upvalues: Vec::new(),
            first_local,
            first_label,
            active_vars: 0,
            free_reg: 0,
            last_target: 0,
            blocks: Vec::new(),
        }
    }

    pub(crate) fn pc(&self) -> usize {
        self.proto.code.len()
    }

    /// The last instruction, unless a jump may land between it and the next one.
    pub(crate) fn previous_instruction(&self) -> Option<Op> {
        if self.pc() > self.last_target {
            self.proto.code.last().copied()
        } else {
            None
        }
    }

    /// Marks the current position as a jump target and returns it.
    pub(crate) fn get_label(&mut self) -> usize {
        self.last_target = self.pc();
        self.pc()
    }

    /// Where the jump at `pc` goes, or `NO_JUMP` at the end of a list.
    pub(crate) fn get_jump(&self, pc: usize) -> i32 {
        match jump_offset(&self.proto.code[pc]) {
            Some(NO_JUMP) | None => NO_JUMP,
            Some(offset) => pc as i32 + 1 + offset,
        }
    }

    pub(crate) fn fix_jump(&mut self, pc: usize, target: usize) {
        let offset = target as i64 - (pc as i64 + 1);
        set_jump_offset(&mut self.proto.code[pc], offset as i32);
    }

    /// Joins list `l2` to list `l1`. A single jump goes in front (order does not matter, all
    /// of a list's jumps get the same targets), so long chains of `and`/`or` stay linear.
    pub(crate) fn concat_jumps(&mut self, l1: &mut i32, l2: i32) {
        if l2 == NO_JUMP {
            return;
        }
        if *l1 == NO_JUMP {
            *l1 = l2;
            return;
        }
        if self.get_jump(l2 as usize) == NO_JUMP {
            let first = *l1 as usize;
            self.fix_jump(l2 as usize, first);
            *l1 = l2;
            return;
        }
        let mut list = *l1 as usize;
        loop {
            let next = self.get_jump(list);
            if next == NO_JUMP {
                break;
            }
            list = next as usize;
        }
        self.fix_jump(list, l2 as usize);
    }

    /// Sets the destination of a `TestSet` controlling the jump at `pc` to `reg`, or turns it
    /// into a plain `Test` when there is no register (or the value is already there). Returns
    /// whether the jump was a `TestSet`.
    fn patch_test_register(&mut self, pc: usize, reg: Option<u8>) -> bool {
        let op = &mut self.proto.code[pc];
        let Op::TestSet { b, k, off, .. } = *op else {
            return false;
        };
        *op = match reg {
            Some(reg) if reg != b => Op::TestSet { a: reg, b, k, off },
            _ => Op::Test { a: b, k, off },
        };
        true
    }

    /// Makes every test in `list` a plain test that produces no value.
    pub(crate) fn remove_values(&mut self, mut list: i32) {
        while list != NO_JUMP {
            self.patch_test_register(list as usize, None);
            list = self.get_jump(list as usize);
        }
    }

    /// Patches `list`: tests that produce a value put it in `reg` and go to `value_target`,
    /// the other jumps go to `default_target`.
    pub(crate) fn patch_list_aux(
        &mut self,
        mut list: i32,
        value_target: usize,
        reg: Option<u8>,
        default_target: usize,
    ) {
        while list != NO_JUMP {
            let pc = list as usize;
            let next = self.get_jump(pc);
            if self.patch_test_register(pc, reg) {
                self.fix_jump(pc, value_target);
            } else {
                self.fix_jump(pc, default_target);
            }
            list = next;
        }
    }

    pub(crate) fn patch_list(&mut self, list: i32, target: usize) {
        self.patch_list_aux(list, target, None, target);
    }

    pub(crate) fn patch_to_here(&mut self, list: i32) {
        let here = self.get_label();
        self.patch_list(list, here);
    }

    /// Whether some jump of `list` is not a `TestSet` (so it produces no value of its own).
    pub(crate) fn needs_value(&self, mut list: i32) -> bool {
        while list != NO_JUMP {
            if !matches!(self.proto.code[list as usize], Op::TestSet { .. }) {
                return true;
            }
            list = self.get_jump(list as usize);
        }
        false
    }

    /// Flips the condition of the comparison at `pc`.
    pub(crate) fn negate_condition(&mut self, pc: usize) {
        match &mut self.proto.code[pc] {
            Op::Eq { k, .. }
            | Op::Lt { k, .. }
            | Op::Le { k, .. }
            | Op::EqK { k, .. }
            | Op::EqI { k, .. }
            | Op::LtI { k, .. }
            | Op::LeI { k, .. }
            | Op::GtI { k, .. }
            | Op::GeI { k, .. }
            | Op::Test { k, .. }
            | Op::TestSet { k, .. } => *k = !*k,
            _ => debug_assert!(false, "negating a non-condition"),
        }
    }

    /// Number of registers held by active variables below variable level `level`.
    pub(crate) fn reg_level(&self, vars: &[VarDesc], mut level: u32) -> u32 {
        while level > 0 {
            level -= 1;
            let var = &vars[self.first_local + level as usize];
            if var.kind != VarKind::CompileTimeConst {
                return u32::from(var.reg) + 1;
            }
        }
        0
    }

    /// Redirects jumps that land on a `Jmp` to that jump's final target.
    pub(crate) fn thread_jumps(&mut self) {
        for pc in 0..self.pc() {
            let Some(offset) = jump_offset(&self.proto.code[pc]) else {
                continue;
            };
            let mut target = (pc as i64 + 1 + i64::from(offset)) as usize;
            // Bounded, like lua5.4, so that a loop of jumps cannot hang the compiler.
            for _ in 0..100 {
                match self.proto.code.get(target) {
                    Some(Op::Jmp { off }) => {
                        target = (target as i64 + 1 + i64::from(*off)) as usize
                    }
                    _ => break,
                }
            }
            self.fix_jump(pc, target);
        }
    }
}

/// A local variable as the parser tracks it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VarDesc {
    pub(crate) name: StrId,
    pub(crate) kind: VarKind,
    /// Register (not meaningful for compile-time constants).
    pub(crate) reg: u8,
    /// Index of its entry in the prototype's `locals`.
    pub(crate) debug_index: usize,
    /// Value of a compile-time constant.
    pub(crate) value: ConstValue,
}

/// The jump offset of a jumping instruction (loops excluded).
pub(crate) fn jump_offset(op: &Op) -> Option<i32> {
    match *op {
        Op::Jmp { off }
        | Op::Eq { off, .. }
        | Op::Lt { off, .. }
        | Op::Le { off, .. }
        | Op::EqK { off, .. }
        | Op::EqI { off, .. }
        | Op::LtI { off, .. }
        | Op::LeI { off, .. }
        | Op::GtI { off, .. }
        | Op::GeI { off, .. }
        | Op::Test { off, .. }
        | Op::TestSet { off, .. } => Some(off),
        _ => None,
    }
}

fn set_jump_offset(op: &mut Op, offset: i32) {
    match op {
        Op::Jmp { off }
        | Op::Eq { off, .. }
        | Op::Lt { off, .. }
        | Op::Le { off, .. }
        | Op::EqK { off, .. }
        | Op::EqI { off, .. }
        | Op::LtI { off, .. }
        | Op::LeI { off, .. }
        | Op::GtI { off, .. }
        | Op::GeI { off, .. }
        | Op::Test { off, .. }
        | Op::TestSet { off, .. } => *off = offset,
        _ => debug_assert!(false, "patching a jump into a non-jump"),
    }
}

/// Sets the destination register of an instruction whose result can go anywhere.
fn set_destination(op: &mut Op, reg: u8) {
    match op {
        Op::GetUpval { a, .. }
        | Op::GetTabUp { a, .. }
        | Op::GetTable { a, .. }
        | Op::GetInt { a, .. }
        | Op::GetField { a, .. }
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
        | Op::Closure { a, .. }
        | Op::VarArg { a, .. } => *a = reg,
        _ => debug_assert!(false, "relocating a fixed instruction"),
    }
}

impl Parser<'_> {
    /// Emits `op` with the line of the last token read.
    pub(crate) fn emit(&mut self, op: Op) -> usize {
        let line = self.lex.last_line;
        let fs = &mut self.fs;
        fs.proto.code.push(op);
        fs.proto.lines.push(line);
        fs.pc() - 1
    }

    /// Gives the last instruction emitted the line `line`.
    pub(crate) fn fix_line(&mut self, line: u32) {
        if let Some(last) = self.fs.proto.lines.last_mut() {
            *last = line;
        }
    }

    pub(crate) fn remove_last_instruction(&mut self) {
        self.fs.proto.code.pop();
        self.fs.proto.lines.pop();
    }

    /// Emits an unconditional jump to be patched later; returns its position.
    pub(crate) fn jump(&mut self) -> usize {
        self.emit(Op::Jmp { off: NO_JUMP })
    }

    /// Emits a jump back (or forward) to `target`.
    pub(crate) fn jump_to(&mut self, target: usize) {
        let pc = self.jump();
        self.fs.patch_list(pc as i32, target);
    }

    /// Emits a conditional instruction (its offset still open); returns its position.
    pub(crate) fn cond_jump(&mut self, op: Op) -> usize {
        self.emit(op)
    }

    /// `return R[first], ...` with `count` values (`None`: up to the top).
    pub(crate) fn ret(&mut self, first: u32, count: Option<u32>) {
        let a = first as u8;
        let op = match count {
            Some(0) => Op::Return0,
            Some(1) => Op::Return1 { a },
            Some(n) => Op::Return {
                a,
                b: (n + 1) as u8,
            },
            None => Op::Return { a, b: 0 },
        };
        self.emit(op);
    }

    /// Sets `count` registers from `from` to nil, extending a `LoadNil` just before if the
    /// ranges touch.
    pub(crate) fn load_nil(&mut self, from: u32, count: u32) {
        let last = from + count - 1;
        if let Some(Op::LoadNil { a, n }) = self.fs.previous_instruction() {
            let previous_from = u32::from(a);
            let previous_last = previous_from + u32::from(n);
            if (previous_from <= from && from <= previous_last + 1)
                || (from <= previous_from && previous_from <= last + 1)
            {
                let from = from.min(previous_from);
                let last = last.max(previous_last);
                if let Some(op) = self.fs.proto.code.last_mut() {
                    *op = Op::LoadNil {
                        a: from as u8,
                        n: (last - from) as u8,
                    };
                }
                return;
            }
        }
        self.emit(Op::LoadNil {
            a: from as u8,
            n: (count - 1) as u8,
        });
    }

    /// `R[reg] := i`
    pub(crate) fn load_int(&mut self, reg: u32, i: i64) {
        let a = reg as u8;
        match i32::try_from(i) {
            Ok(i) => self.emit(Op::LoadI { a, i }),
            Err(_) => {
                let k = self.int_constant(i);
                self.emit(Op::LoadK { a, k })
            }
        };
    }

    /// `R[reg] := f`
    pub(crate) fn load_float(&mut self, reg: u32, f: f64) {
        let a = reg as u8;
        let as_int = f as i32;
        // -0.0 must keep its sign, so it is a constant.
        if f64::from(as_int) == f && !(f == 0.0 && f.is_sign_negative()) {
            self.emit(Op::LoadF { a, f: as_int });
        } else {
            let k = self.float_constant(f);
            self.emit(Op::LoadK { a, k });
        }
    }

    /// Makes sure `count` more registers above the free ones fit.
    pub(crate) fn check_stack(&mut self, count: u32) -> Result<(), SyntaxError> {
        let new_stack = self.fs.free_reg + count;
        if new_stack > u32::from(self.fs.proto.max_stack) {
            if new_stack >= MAX_REGISTERS {
                return Err(self.syntax_error(b"function or expression needs too many registers"));
            }
            self.fs.proto.max_stack = new_stack as u8;
        }
        Ok(())
    }

    pub(crate) fn reserve_regs(&mut self, count: u32) -> Result<(), SyntaxError> {
        self.check_stack(count)?;
        self.fs.free_reg += count;
        Ok(())
    }

    /// Registers used by active variables.
    pub(crate) fn var_stack_level(&self) -> u32 {
        self.fs.reg_level(&self.vars, self.fs.active_vars)
    }

    /// Frees `reg` if it is a temporary (the top one).
    pub(crate) fn free_register(&mut self, reg: u32) {
        if reg >= self.var_stack_level() {
            self.fs.free_reg -= 1;
            debug_assert_eq!(reg, self.fs.free_reg, "registers freed out of order");
        }
    }

    /// Frees two temporaries, the higher first.
    pub(crate) fn free_registers(&mut self, r1: u32, r2: u32) {
        if r1 > r2 {
            self.free_register(r1);
            self.free_register(r2);
        } else {
            self.free_register(r2);
            self.free_register(r1);
        }
    }

    fn add_constant(&mut self, key: ConstKey, value: impl FnOnce(&Self) -> Constant) -> u32 {
        let key = key.bytes();
        if let Some(&index) = self.fs.constant_index.get(&key[..]) {
            return index;
        }
        let constant = value(self);
        let index = self.fs.proto.constants.len() as u32;
        self.fs.proto.constants.push(constant);
        self.fs.constant_index.insert(key.into(), index);
        index
    }

    pub(crate) fn string_constant(&mut self, s: StrId) -> u32 {
        self.add_constant(ConstKey::Str(s), |p| {
            Constant::String(p.lex.strings.get(s).into())
        })
    }

    pub(crate) fn int_constant(&mut self, i: i64) -> u32 {
        self.add_constant(ConstKey::Int(i), |_| Constant::Integer(i))
    }

    pub(crate) fn float_constant(&mut self, f: f64) -> u32 {
        self.add_constant(ConstKey::Float(f.to_bits()), |_| Constant::Float(f))
    }

    pub(crate) fn bool_constant(&mut self, b: bool) -> u32 {
        self.add_constant(ConstKey::Boolean(b), |_| Constant::Boolean(b))
    }

    pub(crate) fn nil_constant(&mut self) -> u32 {
        self.add_constant(ConstKey::Nil, |_| Constant::Nil)
    }

    /// Whether constant `k` is a string.
    pub(crate) fn is_string_constant(&self, k: u32) -> bool {
        matches!(
            self.fs.proto.constants.get(k as usize),
            Some(Constant::String(_))
        )
    }

    /// `R[base][nelems + i] := R[base + i]` for the `count` pending list items (`None`: up to
    /// the top); frees their registers.
    pub(crate) fn set_list(&mut self, base: u32, stored: u32, count: Option<u32>) {
        let n = count.unwrap_or(0) as u8;
        self.emit(Op::SetList {
            a: base as u8,
            n,
            start: stored,
        });
        self.fs.free_reg = base + 1;
    }

    /// Fills in the sizes of the `NewTable` at `pc` once the constructor is read.
    pub(crate) fn set_table_size(&mut self, pc: usize, reg: u32, array: u32, hash: u32) {
        self.fs.proto.code[pc] = Op::NewTable {
            a: reg as u8,
            hash: hash.min(255) as u8,
            array,
        };
    }
}
