//! Statements: blocks, control structures, loops, declarations, assignments, returns, gotos
//! and labels.

use alloc::vec::Vec;

use super::Parser;
use crate::bytecode::Op;
use crate::compiler::code::{ExpDesc, ExpKind, VarKind, NO_JUMP};
use crate::compiler::lexer::{StrId, Token};
use crate::compiler::SyntaxError;
use crate::number::write_int;

impl Parser<'_> {
    /// Whether the current token ends a block (`until` only where asked).
    fn block_follow(&self, with_until: bool) -> bool {
        match self.lex.token {
            Token::Else | Token::ElseIf | Token::End | Token::Eof => true,
            Token::Until => with_until,
            _ => false,
        }
    }

    pub(crate) fn statement_list(&mut self) -> Result<(), SyntaxError> {
        while !self.block_follow(true) {
            if self.lex.token == Token::Return {
                // `return` must be the last statement.
                return self.statement();
            }
            self.statement()?;
        }
        Ok(())
    }

    fn block(&mut self) -> Result<(), SyntaxError> {
        self.enter_block(false);
        self.statement_list()?;
        self.leave_block()
    }

    fn statement(&mut self) -> Result<(), SyntaxError> {
        let line = self.lex.line;
        self.enter_level()?;
        match self.lex.token {
            Token::Char(b';') => self.lex.next()?,
            Token::If => self.if_statement(line)?,
            Token::While => self.while_statement(line)?,
            Token::Do => {
                self.lex.next()?;
                self.block()?;
                self.check_match(Token::End, Token::Do, line)?;
            }
            Token::For => self.for_statement(line)?,
            Token::Repeat => self.repeat_statement(line)?,
            Token::Function => self.function_statement(line)?,
            Token::Local => {
                self.lex.next()?;
                if self.test_next(Token::Function)? {
                    self.local_function()?;
                } else {
                    self.local_statement()?;
                }
            }
            Token::DbColon => {
                self.lex.next()?;
                let name = self.check_name()?;
                self.label_statement(name, line)?;
            }
            Token::Return => {
                self.lex.next()?;
                self.return_statement()?;
            }
            Token::Break => self.break_statement()?,
            Token::Goto => {
                self.lex.next()?;
                self.goto_statement()?;
            }
            _ => self.expression_statement()?,
        }
        debug_assert!(u32::from(self.fs.proto.max_stack) >= self.fs.free_reg);
        self.fs.free_reg = self.var_stack_level();
        self.leave_level();
        Ok(())
    }

    /// A condition: falls through when true; returns the jumps taken when false.
    fn condition(&mut self) -> Result<i32, SyntaxError> {
        let mut v = ExpDesc::new(ExpKind::Void);
        self.expr(&mut v)?;
        if v.kind == ExpKind::Nil {
            // All false values are the same here.
            v.kind = ExpKind::False;
        }
        self.go_if_true(&mut v)?;
        Ok(v.f)
    }

    fn if_statement(&mut self, line: u32) -> Result<(), SyntaxError> {
        let mut escapes = NO_JUMP;
        self.test_then_block(&mut escapes)?;
        while self.lex.token == Token::ElseIf {
            self.test_then_block(&mut escapes)?;
        }
        if self.test_next(Token::Else)? {
            self.block()?;
        }
        self.check_match(Token::End, Token::If, line)?;
        self.fs.patch_to_here(escapes);
        Ok(())
    }

    /// `[if | elseif] cond then block`; adds the jump over the following parts to `escapes`.
    fn test_then_block(&mut self, escapes: &mut i32) -> Result<(), SyntaxError> {
        self.lex.next()?;
        let mut v = ExpDesc::new(ExpKind::Void);
        self.expr(&mut v)?;
        self.check_next(Token::Then)?;
        let skip_block = if self.lex.token == Token::Break {
            // `if cond then break`: the condition's own jump is the break.
            let line = self.lex.line;
            self.go_if_false(&mut v)?;
            self.lex.next()?;
            self.enter_block(false);
            let break_name = self.names.break_;
            self.new_goto(break_name, line, v.t);
            while self.test_next(Token::Char(b';'))? {}
            if self.block_follow(false) {
                return self.leave_block();
            }
            self.jump() as i32
        } else {
            self.go_if_true(&mut v)?;
            self.enter_block(false);
            v.f
        };
        self.statement_list()?;
        self.leave_block()?;
        if matches!(self.lex.token, Token::Else | Token::ElseIf) {
            let jump = self.jump() as i32;
            self.fs.concat_jumps(escapes, jump);
        }
        self.fs.patch_to_here(skip_block);
        Ok(())
    }

    fn while_statement(&mut self, line: u32) -> Result<(), SyntaxError> {
        self.lex.next()?;
        let start = self.fs.get_label();
        let exit = self.condition()?;
        self.enter_block(true);
        self.check_next(Token::Do)?;
        self.block()?;
        self.jump_to(start);
        self.check_match(Token::End, Token::While, line)?;
        self.leave_block()?;
        self.fs.patch_to_here(exit);
        Ok(())
    }

    fn repeat_statement(&mut self, line: u32) -> Result<(), SyntaxError> {
        let start = self.fs.get_label();
        self.enter_block(true);
        self.enter_block(false);
        self.lex.next()?;
        self.statement_list()?;
        self.check_match(Token::Until, Token::Repeat, line)?;
        // The condition sees the body's locals: it is read inside the scope block.
        let mut repeat = self.condition()?;
        let scope = self.fs.blocks.last().copied();
        self.leave_block()?;
        if let Some(scope) = scope.filter(|b| b.has_upvalue) {
            // Going round again must close the captured locals first.
            let exit = self.jump() as i32;
            self.fs.patch_to_here(repeat);
            let level = self.fs.reg_level(&self.vars, scope.active_vars);
            self.emit(Op::Close { a: level as u8 });
            repeat = self.jump() as i32;
            self.fs.patch_to_here(exit);
        }
        self.fs.patch_list(repeat, start);
        self.leave_block()
    }

    /// Reads an expression into the next register.
    fn expression_to_next_reg(&mut self) -> Result<(), SyntaxError> {
        let mut e = ExpDesc::new(ExpKind::Void);
        self.expr(&mut e)?;
        self.exp_to_next_reg(&mut e)
    }

    fn for_statement(&mut self, line: u32) -> Result<(), SyntaxError> {
        self.enter_block(true);
        self.lex.next()?;
        let name = self.check_name()?;
        match self.lex.token {
            Token::Char(b'=') => self.numeric_for(name, line)?,
            Token::Char(b',') | Token::In => self.generic_for(name)?,
            _ => return Err(self.syntax_error(b"'=' or 'in' expected")),
        }
        self.check_match(Token::End, Token::For, line)?;
        self.leave_block()
    }

    fn numeric_for(&mut self, name: StrId, line: u32) -> Result<(), SyntaxError> {
        let base = self.fs.free_reg;
        let state = self.names.for_state;
        for _ in 0..3 {
            self.new_local_var(state)?;
        }
        self.new_local_var(name)?;
        self.check_next(Token::Char(b'='))?;
        self.expression_to_next_reg()?;
        self.check_next(Token::Char(b','))?;
        self.expression_to_next_reg()?;
        if self.test_next(Token::Char(b','))? {
            self.expression_to_next_reg()?;
        } else {
            let reg = self.fs.free_reg;
            self.load_int(reg, 1);
            self.reserve_regs(1)?;
        }
        self.adjust_local_vars(3);
        self.for_body(base, line, 1, false)
    }

    fn generic_for(&mut self, first_name: StrId) -> Result<(), SyntaxError> {
        let base = self.fs.free_reg;
        let state = self.names.for_state;
        for _ in 0..4 {
            self.new_local_var(state)?;
        }
        self.new_local_var(first_name)?;
        let mut names = 1;
        while self.test_next(Token::Char(b','))? {
            let name = self.check_name()?;
            self.new_local_var(name)?;
            names += 1;
        }
        self.check_next(Token::In)?;
        let line = self.lex.line;
        let mut e = ExpDesc::new(ExpKind::Void);
        let count = self.expr_list(&mut e)?;
        self.adjust_assign(4, count, &mut e)?;
        self.adjust_local_vars(4);
        // The fourth value is the loop's closing value.
        self.mark_to_be_closed();
        // Room to call the iterator.
        self.check_stack(3)?;
        self.for_body(base, line, names, true)
    }

    /// `do block` of a for loop whose state starts at register `base` and whose loop
    /// instructions are attributed to `line`.
    fn for_body(
        &mut self,
        base: u32,
        line: u32,
        names: u32,
        generic: bool,
    ) -> Result<(), SyntaxError> {
        self.check_next(Token::Do)?;
        let a = base as u8;
        let prepare = if generic {
            self.emit(Op::TForPrep { a, off: 0 })
        } else {
            self.emit(Op::ForPrep { a, off: 0 })
        };
        self.enter_block(false);
        self.adjust_local_vars(names);
        self.reserve_regs(names)?;
        self.block()?;
        self.leave_block()?;
        let after_body = self.fs.get_label();
        if generic {
            self.emit(Op::TForCall { a, c: names as u8 });
            self.fix_line(line);
        }
        let end = if generic {
            self.emit(Op::TForLoop { a, off: 0 })
        } else {
            self.emit(Op::ForLoop { a, off: 0 })
        };
        // The loop instruction jumps back to the body, just after the preparation.
        let back = prepare as i32 - end as i32;
        let forward = if generic {
            // To the `TForCall`.
            after_body as i32 - prepare as i32 - 1
        } else {
            // Past the `ForLoop`.
            end as i32 - prepare as i32
        };
        self.fs.proto.code[end] = if generic {
            Op::TForLoop { a, off: back }
        } else {
            Op::ForLoop { a, off: back }
        };
        self.fs.proto.code[prepare] = if generic {
            Op::TForPrep { a, off: forward }
        } else {
            Op::ForPrep { a, off: forward }
        };
        self.fix_line(line);
        Ok(())
    }

    fn function_statement(&mut self, line: u32) -> Result<(), SyntaxError> {
        self.lex.next()?;
        let name = self.check_name()?;
        let mut v = self.single_var(name)?;
        let mut is_method = false;
        while self.lex.token == Token::Char(b'.') {
            self.field_selector(&mut v)?;
        }
        if self.lex.token == Token::Char(b':') {
            is_method = true;
            self.field_selector(&mut v)?;
        }
        let mut b = ExpDesc::new(ExpKind::Void);
        self.body(&mut b, is_method, line)?;
        self.check_read_only(&v)?;
        self.store_var(&v, &mut b)?;
        // The definition "happens" on the line of `function`.
        self.fix_line(line);
        Ok(())
    }

    fn local_function(&mut self) -> Result<(), SyntaxError> {
        let var = self.fs.active_vars;
        let name = self.check_name()?;
        self.new_local_var(name)?;
        self.adjust_local_vars(1);
        let mut b = ExpDesc::new(ExpKind::Void);
        let line = self.lex.line;
        self.body(&mut b, false, line)?;
        // Debug information sees the variable only once the closure is in it.
        let pc = self.fs.pc() as u32;
        let debug_index = self.local_var(var).debug_index;
        self.fs.proto.locals[debug_index].start_pc = pc;
        Ok(())
    }

    /// `<const>`, `<close>` or nothing after a local's name.
    fn attribute(&mut self) -> Result<VarKind, SyntaxError> {
        if !self.test_next(Token::Char(b'<'))? {
            return Ok(VarKind::Regular);
        }
        let name = self.check_name()?;
        self.check_next(Token::Char(b'>'))?;
        match self.lex.strings.get(name) {
            b"const" => Ok(VarKind::Const),
            b"close" => Ok(VarKind::ToClose),
            other => {
                let mut message = b"unknown attribute '".to_vec();
                message.extend_from_slice(other);
                message.push(b'\'');
                Err(self.semantic_error(&message))
            }
        }
    }

    fn local_statement(&mut self) -> Result<(), SyntaxError> {
        let mut to_close = None;
        let mut count = 0;
        let mut last;
        loop {
            let name = self.check_name()?;
            last = self.new_local_var(name)?;
            let kind = self.attribute()?;
            self.local_var(last).kind = kind;
            if kind == VarKind::ToClose {
                if to_close.is_some() {
                    return Err(
                        self.semantic_error(b"multiple to-be-closed variables in local list")
                    );
                }
                to_close = Some(self.fs.active_vars + count);
            }
            count += 1;
            if !self.test_next(Token::Char(b','))? {
                break;
            }
        }
        let mut e = ExpDesc::new(ExpKind::Void);
        let expressions = if self.test_next(Token::Char(b'='))? {
            self.expr_list(&mut e)?
        } else {
            0
        };
        let constant = if count == expressions && self.local_var(last).kind == VarKind::Const {
            self.exp_to_const(&e)
        } else {
            None
        };
        if let Some(value) = constant {
            // A compile-time constant: no register, uses see the value.
            let var = self.local_var(last);
            var.kind = VarKind::CompileTimeConst;
            var.value = value;
            self.adjust_local_vars(count - 1);
            self.fs.active_vars += 1;
        } else {
            self.adjust_assign(count, expressions, &mut e)?;
            self.adjust_local_vars(count);
        }
        if let Some(var) = to_close {
            self.mark_to_be_closed();
            let reg = self.fs.reg_level(&self.vars, var);
            self.emit(Op::Tbc { a: reg as u8 });
        }
        Ok(())
    }

    /// Makes `count` expressions (the last one in `e`) give `vars` values in consecutive
    /// registers.
    pub(crate) fn adjust_assign(
        &mut self,
        vars: u32,
        count: u32,
        e: &mut ExpDesc,
    ) -> Result<(), SyntaxError> {
        let needed = i64::from(vars) - i64::from(count);
        if e.has_multiple_results() {
            let extra = (needed + 1).max(0) as u32;
            self.set_returns(e, Some(extra))?;
        } else {
            if e.kind != ExpKind::Void {
                self.exp_to_next_reg(e)?;
            }
            if needed > 0 {
                let reg = self.fs.free_reg;
                self.load_nil(reg, needed as u32);
            }
        }
        if needed > 0 {
            self.reserve_regs(needed as u32)?;
        } else {
            self.fs.free_reg = (i64::from(self.fs.free_reg) + needed) as u32;
        }
        Ok(())
    }

    /// A call used as a statement, or an assignment.
    fn expression_statement(&mut self) -> Result<(), SyntaxError> {
        let mut v = ExpDesc::new(ExpKind::Void);
        self.suffixed_exp(&mut v)?;
        if matches!(self.lex.token, Token::Char(b'=' | b',')) {
            return self.assignment(v);
        }
        let ExpKind::Call(pc) = v.kind else {
            return Err(self.syntax_error(b"syntax error"));
        };
        if let Op::Call { c, .. } = &mut self.fs.proto.code[pc] {
            // A call statement keeps no results.
            *c = 1;
        }
        Ok(())
    }

    /// `target {, target} = explist`: the values are computed first, then stored from the
    /// last target to the first.
    fn assignment(&mut self, first: ExpDesc) -> Result<(), SyntaxError> {
        let mut targets: Vec<ExpDesc> = Vec::with_capacity(1);
        targets.push(first);
        loop {
            let last = targets[targets.len() - 1];
            if !last.is_var() {
                return Err(self.syntax_error(b"syntax error"));
            }
            self.check_read_only(&last)?;
            if !self.test_next(Token::Char(b','))? {
                break;
            }
            let mut next = ExpDesc::new(ExpKind::Void);
            self.suffixed_exp(&mut next)?;
            if !next.is_indexed() {
                self.check_conflict(&mut targets, &next)?;
            }
            // Each further target counts as a level of nesting, as in lua5.4.
            self.enter_level()?;
            targets.push(next);
        }
        let result = self.finish_assignment(&targets);
        for _ in 1..targets.len() {
            self.leave_level();
        }
        result
    }

    fn finish_assignment(&mut self, targets: &[ExpDesc]) -> Result<(), SyntaxError> {
        self.check_next(Token::Char(b'='))?;
        let mut e = ExpDesc::new(ExpKind::Void);
        let count = self.expr_list(&mut e)?;
        let vars = targets.len() as u32;
        let mut remaining = targets;
        if count != vars {
            self.adjust_assign(vars, count, &mut e)?;
        } else if let Some((last, rest)) = targets.split_last() {
            self.set_one_return(&mut e);
            self.store_var(last, &mut e)?;
            remaining = rest;
        }
        for target in remaining.iter().rev() {
            let mut value = ExpDesc::new(ExpKind::NonReloc(self.fs.free_reg - 1));
            self.store_var(target, &mut value)?;
        }
        Ok(())
    }

    /// Before assigning to local or upvalue `v`, makes earlier targets that index with it
    /// use a copy of its current value.
    fn check_conflict(&mut self, targets: &mut [ExpDesc], v: &ExpDesc) -> Result<(), SyntaxError> {
        let extra = self.fs.free_reg;
        let mut conflict = false;
        for target in targets.iter_mut() {
            match (&mut target.kind, v.kind) {
                (ExpKind::IndexUp { table, key }, ExpKind::Upvalue(up)) if *table == up => {
                    conflict = true;
                    target.kind = ExpKind::IndexStr {
                        table: extra,
                        key: *key,
                    };
                }
                (
                    ExpKind::Indexed { table, .. }
                    | ExpKind::IndexInt { table, .. }
                    | ExpKind::IndexStr { table, .. },
                    ExpKind::Local { reg, .. },
                ) => {
                    if *table == reg {
                        conflict = true;
                        *table = extra;
                    }
                    if let ExpKind::Indexed { key, .. } = &mut target.kind {
                        if *key == reg {
                            conflict = true;
                            *key = extra;
                        }
                    }
                }
                _ => {}
            }
        }
        if conflict {
            let a = extra as u8;
            match v.kind {
                ExpKind::Local { reg, .. } => self.emit(Op::Move { a, b: reg as u8 }),
                ExpKind::Upvalue(up) => self.emit(Op::GetUpval { a, b: up as u8 }),
                _ => 0,
            };
            self.reserve_regs(1)?;
        }
        Ok(())
    }

    fn return_statement(&mut self) -> Result<(), SyntaxError> {
        let mut first = self.var_stack_level();
        let count;
        if self.block_follow(true) || self.lex.token == Token::Char(b';') {
            count = Some(0);
        } else {
            let mut e = ExpDesc::new(ExpKind::Void);
            let values = self.expr_list(&mut e)?;
            if e.has_multiple_results() {
                self.set_multiple_returns(&e)?;
                let inside_tbc = self.fs.blocks.last().is_some_and(|b| b.inside_tbc);
                if let (ExpKind::Call(pc), 1, false) = (e.kind, values, inside_tbc) {
                    if let Op::Call { a, b, .. } = self.fs.proto.code[pc] {
                        self.fs.proto.code[pc] = Op::TailCall { a, b };
                    }
                }
                count = None;
            } else if values == 1 {
                // A single value can be returned from wherever it is.
                first = self.exp_to_any_reg(&mut e)?;
                count = Some(1);
            } else {
                self.exp_to_next_reg(&mut e)?;
                count = Some(values);
            }
        }
        self.ret(first, count);
        self.test_next(Token::Char(b';'))?;
        Ok(())
    }

    fn goto_statement(&mut self) -> Result<(), SyntaxError> {
        let line = self.lex.line;
        let name = self.check_name()?;
        match self.find_label(name) {
            Some(label) => {
                // A backward jump: close what it leaves behind, then jump.
                let level = self.fs.reg_level(&self.vars, label.active_vars);
                if self.var_stack_level() > level {
                    self.emit(Op::Close { a: level as u8 });
                }
                self.jump_to(label.pc as usize);
            }
            None => {
                let jump = self.jump() as i32;
                self.new_goto(name, line, jump);
            }
        }
        Ok(())
    }

    fn break_statement(&mut self) -> Result<(), SyntaxError> {
        let line = self.lex.line;
        self.lex.next()?;
        let jump = self.jump() as i32;
        let break_name = self.names.break_;
        self.new_goto(break_name, line, jump);
        Ok(())
    }

    fn label_statement(&mut self, name: StrId, line: u32) -> Result<(), SyntaxError> {
        self.check_next(Token::DbColon)?;
        while matches!(self.lex.token, Token::Char(b';') | Token::DbColon) {
            self.statement()?;
        }
        if let Some(existing) = self.find_label(name) {
            let mut message = b"label '".to_vec();
            message.extend_from_slice(self.lex.strings.get(name));
            message.extend_from_slice(b"' already defined on line ");
            write_int(&mut message, existing.line.into());
            return Err(self.semantic_error(&message));
        }
        let last = self.block_follow(false);
        let level = self.var_stack_level();
        self.create_label(name, line, last, level)?;
        Ok(())
    }
}
