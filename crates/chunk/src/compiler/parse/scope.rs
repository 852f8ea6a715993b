//! Scopes: local variables, upvalues, blocks, labels and gotos, and the functions themselves.

use alloc::vec::Vec;

use super::labels::LabelDesc;
use super::Parser;
use crate::bytecode::Op;
use crate::compiler::code::{
    Block, ConstValue, ExpDesc, ExpKind, FuncState, Upvalue, VarDesc, VarKind,
};
use crate::compiler::lexer::{StrId, Token};
use crate::compiler::SyntaxError;
use crate::number::write_int;
use crate::proto::{FunctionProto, LocalDesc, UpvalueDesc};

/// Local variables a function may have in scope at once.
const MAX_VARS: u32 = 200;

/// Upvalues a function may have.
const MAX_UPVALUES: u32 = 255;

impl Parser<'_> {
    /// The function at nesting `level` (0 is the main function).
    fn function_at(&self, level: usize) -> &FuncState {
        self.enclosing.get(level).unwrap_or(&self.fs)
    }

    fn function_at_mut(&mut self, level: usize) -> &mut FuncState {
        if level < self.enclosing.len() {
            &mut self.enclosing[level]
        } else {
            &mut self.fs
        }
    }

    /// Declares a local variable (not yet in scope); returns its index in the function.
    pub(crate) fn new_local_var(&mut self, name: StrId) -> Result<u32, SyntaxError> {
        let count = self.vars.len() + 1 - self.fs.first_local;
        if count > MAX_VARS as usize {
            return Err(self.limit_error(self.fs.proto.line_defined, MAX_VARS, "local variables"));
        }
        self.vars.push(VarDesc {
            name,
            kind: VarKind::Regular,
            reg: 0,
            debug_index: 0,
            value: ConstValue::Nil,
        });
        Ok((self.vars.len() - 1 - self.fs.first_local) as u32)
    }

    /// The current function's variable with index `var`.
    pub(crate) fn local_var(&mut self, var: u32) -> &mut VarDesc {
        let index = self.fs.first_local + var as usize;
        &mut self.vars[index]
    }

    /// Brings the last `count` declared variables into scope, in consecutive registers.
    pub(crate) fn adjust_local_vars(&mut self, count: u32) {
        let first_reg = self.var_stack_level();
        for reg in first_reg..first_reg + count {
            let var = self.fs.active_vars;
            self.fs.active_vars += 1;
            let pc = self.fs.pc() as u32;
            let name = self.local_var(var).name;
            let debug_index = self.fs.proto.locals.len();
            self.fs.proto.locals.push(LocalDesc {
                name: self.lex.strings.get(name).into(),
                reg: reg as u8,
                start_pc: pc,
                end_pc: pc,
            });
            let desc = self.local_var(var);
            desc.reg = reg as u8;
            desc.debug_index = debug_index;
        }
    }

    /// Ends the scope of the variables above level `to_level`.
    pub(crate) fn remove_vars(&mut self, to_level: u32) {
        let removed = (self.fs.active_vars - to_level) as usize;
        let pc = self.fs.pc() as u32;
        while self.fs.active_vars > to_level {
            self.fs.active_vars -= 1;
            let var = *self.local_var(self.fs.active_vars);
            if var.kind != VarKind::CompileTimeConst {
                self.fs.proto.locals[var.debug_index].end_pc = pc;
            }
        }
        let len = self.vars.len() - removed;
        self.vars.truncate(len);
    }

    /// Looks `name` up among the active variables of the function at `level`.
    fn search_var(&self, level: usize, name: StrId) -> Option<ExpKind> {
        let fs = self.function_at(level);
        (0..fs.active_vars).rev().find_map(|var| {
            let index = fs.first_local + var as usize;
            let desc = &self.vars[index];
            (desc.name == name).then(|| match desc.kind {
                VarKind::CompileTimeConst => ExpKind::Const(index as u32),
                _ => ExpKind::Local {
                    reg: u32::from(desc.reg),
                    var,
                },
            })
        })
    }

    /// Notes that variable `var` of the function at `level` is captured by a closure, so its
    /// block must close it.
    fn mark_captured(&mut self, level: usize, var: u32) {
        let fs = self.function_at_mut(level);
        if let Some(block) = fs.blocks.iter_mut().rev().find(|b| b.active_vars <= var) {
            block.has_upvalue = true;
        }
    }

    /// Notes that the current block has a to-be-closed variable.
    pub(crate) fn mark_to_be_closed(&mut self) {
        if let Some(block) = self.fs.blocks.last_mut() {
            block.has_upvalue = true;
            block.inside_tbc = true;
        }
    }

    /// Adds to the function at `level` an upvalue for `found`, a variable of the function
    /// enclosing it.
    fn new_upvalue(
        &mut self,
        level: usize,
        name: StrId,
        found: ExpKind,
    ) -> Result<u32, SyntaxError> {
        let parent = self.function_at(level - 1);
        let (in_stack, index, kind) = match found {
            ExpKind::Local { reg, var } => (
                true,
                reg as u8,
                self.vars[parent.first_local + var as usize].kind,
            ),
            ExpKind::Upvalue(index) => (false, index as u8, parent.upvalues[index as usize].kind),
            _ => (false, 0, VarKind::Regular),
        };
        let fs = self.function_at(level);
        if fs.upvalues.len() as u32 + 1 > MAX_UPVALUES {
            return Err(self.limit_error(fs.proto.line_defined, MAX_UPVALUES, "upvalues"));
        }
        let fs = self.function_at_mut(level);
        fs.upvalues.push(Upvalue {
            name,
            in_stack,
            index,
            kind,
        });
        Ok(fs.upvalues.len() as u32 - 1)
    }

    /// Resolves `name` as a local, an upvalue (created through every enclosing function as
    /// needed) or a compile-time constant; `Void` for a global.
    fn resolve_name(&mut self, name: StrId) -> Result<ExpKind, SyntaxError> {
        let top = self.enclosing.len();
        let mut level = top;
        let mut found = loop {
            if let Some(kind) = self.search_var(level, name) {
                if let (ExpKind::Local { var, .. }, true) = (kind, level != top) {
                    self.mark_captured(level, var);
                }
                break kind;
            }
            let upvalue = self
                .function_at(level)
                .upvalues
                .iter()
                .position(|u| u.name == name);
            if let Some(index) = upvalue {
                break ExpKind::Upvalue(index as u32);
            }
            if level == 0 {
                return Ok(ExpKind::Void);
            }
            level -= 1;
        };
        if let ExpKind::Const(_) = found {
            return Ok(found);
        }
        for inner in level + 1..=top {
            found = ExpKind::Upvalue(self.new_upvalue(inner, name, found)?);
        }
        Ok(found)
    }

    /// A variable by name: local, upvalue, constant or global (`_ENV.name`).
    pub(crate) fn single_var(&mut self, name: StrId) -> Result<ExpDesc, SyntaxError> {
        let kind = self.resolve_name(name)?;
        if kind != ExpKind::Void {
            return Ok(ExpDesc::new(kind));
        }
        let mut var = ExpDesc::new(self.resolve_name(self.names.env)?);
        // `_ENV` could be a compile-time constant: put it somewhere it can be indexed.
        self.exp_to_any_reg_or_upvalue(&mut var)?;
        let mut key = ExpDesc::new(ExpKind::Str(name));
        self.indexed(&mut var, &mut key)?;
        Ok(var)
    }

    /// Fails if `e` is a variable that cannot be assigned.
    pub(crate) fn check_read_only(&self, e: &ExpDesc) -> Result<(), SyntaxError> {
        let name = match e.kind {
            ExpKind::Const(index) => Some(self.vars[index as usize].name),
            ExpKind::Local { var, .. } => {
                let desc = &self.vars[self.fs.first_local + var as usize];
                (desc.kind != VarKind::Regular).then_some(desc.name)
            }
            ExpKind::Upvalue(index) => {
                let upvalue = &self.fs.upvalues[index as usize];
                (upvalue.kind != VarKind::Regular).then_some(upvalue.name)
            }
            _ => None,
        };
        match name {
            Some(name) => {
                let mut message = b"attempt to assign to const variable '".to_vec();
                message.extend_from_slice(self.lex.strings.get(name));
                message.push(b'\'');
                Err(self.semantic_error(&message))
            }
            None => Ok(()),
        }
    }

    pub(crate) fn enter_block(&mut self, is_loop: bool) {
        let inside_tbc = self.fs.blocks.last().is_some_and(|b| b.inside_tbc);
        self.fs.blocks.push(Block {
            active_vars: self.fs.active_vars,
            first_label: self.labels.len(),
            first_goto: self.gotos.len(),
            has_upvalue: false,
            is_loop,
            inside_tbc,
        });
        debug_assert_eq!(self.fs.free_reg, self.var_stack_level());
    }

    /// Closes the current block: its variables go out of scope, captured ones are closed,
    /// `break`s are resolved and its pending gotos move out to the enclosing block.
    pub(crate) fn leave_block(&mut self) -> Result<(), SyntaxError> {
        let Some(&block) = self.fs.blocks.last() else {
            return Ok(());
        };
        let stack_level = self.fs.reg_level(&self.vars, block.active_vars);
        let mut has_close = false;
        if block.is_loop {
            // `break`s close from the level outside the loop: lua5.4.4 closed from inside it,
            // which missed the generic for's closing value (5.4.6 fixed that).
            has_close = self.create_label(self.names.break_, 0, false, stack_level)?;
        }
        if !has_close && self.fs.blocks.len() > 1 && block.has_upvalue {
            self.emit(Op::Close {
                a: stack_level as u8,
            });
        }
        // The block's first variable with a register: gotos that saw it leave its scope.
        let first_register_var = (block.active_vars..self.fs.active_vars).find(|&var| {
            self.vars[self.fs.first_local + var as usize].kind != VarKind::CompileTimeConst
        });
        self.remove_vars(block.active_vars);
        self.fs.free_reg = stack_level;
        self.labels.truncate(block.first_label);
        self.fs.blocks.pop();
        if !self.fs.blocks.is_empty() {
            self.move_gotos_out(&block, first_register_var);
        } else if let Some(goto) = self.gotos.first_pending(block.first_goto) {
            return Err(self.undefined_goto(&goto));
        }
        self.gotos.drop_solved_tail(block.first_goto);
        Ok(())
    }

    /// Pending gotos of a block being left now belong to the enclosing one; those that leave
    /// the scope of a variable with a register (`first_register_var` or later) may need to
    /// close it.
    fn move_gotos_out(&mut self, block: &Block, first_register_var: Option<u32>) {
        for goto in self.gotos.pending_mut(block.first_goto) {
            if first_register_var.is_some_and(|var| goto.active_vars > var) {
                goto.close |= block.has_upvalue;
            }
            goto.active_vars = block.active_vars;
        }
    }

    fn undefined_goto(&self, goto: &LabelDesc) -> SyntaxError {
        let mut message = if goto.name == self.names.break_ {
            b"break outside loop at line ".to_vec()
        } else {
            let mut message = b"no visible label '".to_vec();
            message.extend_from_slice(self.lex.strings.get(goto.name));
            message.extend_from_slice(b"' for <goto> at line ");
            message
        };
        write_int(&mut message, goto.line.into());
        self.semantic_error(&message)
    }

    /// A visible label of the current function named `name`.
    pub(crate) fn find_label(&self, name: StrId) -> Option<LabelDesc> {
        self.labels.find(name, self.fs.first_label)
    }

    /// Records a goto (or `break`) whose jump list is `pc`.
    pub(crate) fn new_goto(&mut self, name: StrId, line: u32, pc: i32) {
        self.gotos.push(LabelDesc {
            name,
            pc,
            line,
            active_vars: self.fs.active_vars,
            close: false,
        });
    }

    /// Resolves the pending gotos of the current block that go to `label`; returns whether
    /// any of them must close variables.
    fn solve_gotos(&mut self, label: &LabelDesc) -> Result<bool, SyntaxError> {
        let first = self.fs.blocks.last().map_or(0, |b| b.first_goto);
        let mut needs_close = false;
        for goto in self.gotos.take_named(label.name, first) {
            needs_close |= goto.close;
            if goto.active_vars < label.active_vars {
                let var = self.vars[self.fs.first_local + goto.active_vars as usize].name;
                let mut message = b"<goto ".to_vec();
                message.extend_from_slice(self.lex.strings.get(goto.name));
                message.extend_from_slice(b"> at line ");
                write_int(&mut message, goto.line.into());
                message.extend_from_slice(b" jumps into the scope of local '");
                message.extend_from_slice(self.lex.strings.get(var));
                message.push(b'\'');
                return Err(self.semantic_error(&message));
            }
            self.fs.patch_list(goto.pc, label.pc as usize);
        }
        Ok(needs_close)
    }

    /// Creates a label here; `last` says it ends its block (its locals are then out of scope
    /// for the gotos). Returns whether it had to emit a `Close` (from register `close_level`)
    /// for the gotos.
    pub(crate) fn create_label(
        &mut self,
        name: StrId,
        line: u32,
        last: bool,
        close_level: u32,
    ) -> Result<bool, SyntaxError> {
        let pc = self.fs.get_label() as i32;
        let active_vars = match (last, self.fs.blocks.last()) {
            (true, Some(block)) => block.active_vars,
            _ => self.fs.active_vars,
        };
        let label = LabelDesc {
            name,
            pc,
            line,
            active_vars,
            close: false,
        };
        self.labels.push(label);
        if self.solve_gotos(&label)? {
            self.emit(Op::Close {
                a: close_level as u8,
            });
            return Ok(true);
        }
        Ok(false)
    }

    /// Starts compiling a function defined on `line`.
    pub(crate) fn open_function(&mut self, line: u32) {
        let function = FuncState::new(self.source(), line, self.vars.len(), self.labels.len());
        let parent = core::mem::replace(&mut self.fs, function);
        self.enclosing.push(parent);
        self.enter_block(false);
    }

    /// Finishes the current function (final return, scope, jump threading) and returns its
    /// prototype; the enclosing function becomes current again.
    pub(crate) fn close_function(&mut self) -> Result<FunctionProto, SyntaxError> {
        let level = self.var_stack_level();
        self.ret(level, Some(0));
        self.leave_block()?;
        self.fs.thread_jumps();
        let upvalues: Vec<UpvalueDesc> = self
            .fs
            .upvalues
            .iter()
            .map(|u| UpvalueDesc {
                in_stack: u.in_stack,
                index: u.index,
                name: self.lex.strings.get(u.name).into(),
            })
            .collect();
        let replacement = match self.enclosing.pop() {
            Some(parent) => parent,
            None => FuncState::new(self.source(), 0, 0, 0),
        };
        let function = core::mem::replace(&mut self.fs, replacement);
        let mut proto = function.proto;
        proto.upvalues = upvalues;
        Ok(proto)
    }

    /// Compiles the main function: vararg, with `_ENV` as its only upvalue.
    pub(crate) fn main_function(&mut self) -> Result<FunctionProto, SyntaxError> {
        self.enter_block(false);
        self.fs.proto.is_vararg = true;
        let env = self.names.env;
        self.fs.upvalues.push(Upvalue {
            name: env,
            in_stack: true,
            index: 0,
            kind: VarKind::Regular,
        });
        self.lex.next()?;
        self.statement_list()?;
        self.check(Token::Eof)?;
        self.close_function()
    }
}
