//! Expressions: operators by priority, primary and suffixed expressions (suffixes are a
//! loop, so long chains cost no native stack), calls, table constructors and function bodies.

use super::Parser;
use crate::bytecode::Op;
use crate::compiler::code::{BinOp, ExpDesc, ExpKind, UnOp, FIELDS_PER_FLUSH, UNARY_PRIORITY};
use crate::compiler::lexer::Token;
use crate::compiler::SyntaxError;

/// A table constructor being read.
struct Constructor {
    /// The table's register.
    table: u32,
    /// The last list item read, not yet stored.
    pending: ExpDesc,
    /// Record items.
    hash_items: u32,
    /// List items already stored.
    stored: u32,
    /// List items waiting in registers.
    to_store: u32,
}

impl Parser<'_> {
    pub(crate) fn expr(&mut self, v: &mut ExpDesc) -> Result<(), SyntaxError> {
        self.subexpr(v, 0)?;
        Ok(())
    }

    /// Reads an expression whose binary operators bind tighter than `limit`; returns the
    /// first operator it did not take.
    fn subexpr(&mut self, v: &mut ExpDesc, limit: u8) -> Result<Option<BinOp>, SyntaxError> {
        self.enter_level()?;
        if let Some(op) = UnOp::from_token(self.lex.token) {
            let line = self.lex.line;
            self.lex.next()?;
            self.subexpr(v, UNARY_PRIORITY)?;
            self.prefix(op, v, line)?;
        } else {
            self.simple_exp(v)?;
        }
        let mut op = BinOp::from_token(self.lex.token);
        while let Some(current) = op {
            let (left, right) = current.priority();
            if left <= limit {
                break;
            }
            let line = self.lex.line;
            self.lex.next()?;
            self.infix(current, v)?;
            let mut v2 = ExpDesc::new(ExpKind::Void);
            let next = self.subexpr(&mut v2, right)?;
            self.posfix(current, v, &mut v2, line)?;
            op = next;
        }
        self.leave_level();
        Ok(op)
    }

    fn simple_exp(&mut self, v: &mut ExpDesc) -> Result<(), SyntaxError> {
        let kind = match self.lex.token {
            Token::Float(f) => ExpKind::Float(f),
            Token::Int(i) => ExpKind::Int(i),
            Token::String(s) => ExpKind::Str(s),
            Token::Nil => ExpKind::Nil,
            Token::True => ExpKind::True,
            Token::False => ExpKind::False,
            Token::Dots => {
                if !self.fs.proto.is_vararg {
                    return Err(self.syntax_error(b"cannot use '...' outside a vararg function"));
                }
                ExpKind::VarArg(self.emit(Op::VarArg { a: 0, c: 1 }))
            }
            Token::Char(b'{') => return self.constructor(v),
            Token::Function => {
                self.lex.next()?;
                let line = self.lex.line;
                return self.body(v, false, line);
            }
            _ => return self.suffixed_exp(v),
        };
        *v = ExpDesc::new(kind);
        self.lex.next()
    }

    fn primary_exp(&mut self, v: &mut ExpDesc) -> Result<(), SyntaxError> {
        match self.lex.token {
            Token::Char(b'(') => {
                let line = self.lex.line;
                self.lex.next()?;
                self.expr(v)?;
                self.check_match(Token::Char(b')'), Token::Char(b'('), line)?;
                // Parentheses keep one value.
                self.discharge_vars(v);
                Ok(())
            }
            Token::Name(_) => {
                let name = self.check_name()?;
                *v = self.single_var(name)?;
                Ok(())
            }
            _ => Err(self.syntax_error(b"unexpected symbol")),
        }
    }

    /// A primary expression followed by any number of `.name`, `[exp]`, `:name(args)` and
    /// call suffixes.
    pub(crate) fn suffixed_exp(&mut self, v: &mut ExpDesc) -> Result<(), SyntaxError> {
        let line = self.lex.line;
        self.primary_exp(v)?;
        loop {
            match self.lex.token {
                Token::Char(b'.') => self.field_selector(v)?,
                Token::Char(b'[') => {
                    self.exp_to_any_reg_or_upvalue(v)?;
                    let mut key = self.index()?;
                    self.indexed(v, &mut key)?;
                }
                Token::Char(b':') => {
                    self.lex.next()?;
                    let name = self.check_name()?;
                    self.code_self(v, name)?;
                    self.function_args(v, line)?;
                }
                Token::Char(b'(' | b'{') | Token::String(_) => {
                    self.exp_to_next_reg(v)?;
                    self.function_args(v, line)?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// `.name` or `:name` (the method name of a function statement).
    pub(crate) fn field_selector(&mut self, v: &mut ExpDesc) -> Result<(), SyntaxError> {
        self.exp_to_any_reg_or_upvalue(v)?;
        self.lex.next()?;
        let name = self.check_name()?;
        let mut key = ExpDesc::new(ExpKind::Str(name));
        self.indexed(v, &mut key)
    }

    /// `[exp]`
    fn index(&mut self) -> Result<ExpDesc, SyntaxError> {
        self.lex.next()?;
        let mut key = ExpDesc::new(ExpKind::Void);
        self.expr(&mut key)?;
        self.exp_to_val(&mut key)?;
        self.check_next(Token::Char(b']'))?;
        Ok(key)
    }

    /// Reads a comma-separated list of expressions; all but the last are put in consecutive
    /// registers, the last is left in `v`. Returns how many there were.
    pub(crate) fn expr_list(&mut self, v: &mut ExpDesc) -> Result<u32, SyntaxError> {
        let mut count = 1;
        self.expr(v)?;
        while self.test_next(Token::Char(b','))? {
            self.exp_to_next_reg(v)?;
            self.expr(v)?;
            count += 1;
        }
        Ok(count)
    }

    /// The arguments of a call of the function in `f`'s register; the call is on `line`.
    fn function_args(&mut self, f: &mut ExpDesc, line: u32) -> Result<(), SyntaxError> {
        let mut args = ExpDesc::new(ExpKind::Void);
        match self.lex.token {
            Token::Char(b'(') => {
                self.lex.next()?;
                if self.lex.token != Token::Char(b')') {
                    self.expr_list(&mut args)?;
                    if args.has_multiple_results() {
                        self.set_multiple_returns(&args)?;
                    }
                }
                self.check_match(Token::Char(b')'), Token::Char(b'('), line)?;
            }
            Token::Char(b'{') => self.constructor(&mut args)?,
            Token::String(s) => {
                args = ExpDesc::new(ExpKind::Str(s));
                self.lex.next()?;
            }
            _ => return Err(self.syntax_error(b"function arguments expected")),
        }
        let ExpKind::NonReloc(base) = f.kind else {
            debug_assert!(false, "calling {:?}", f.kind);
            return Ok(());
        };
        let b = if args.has_multiple_results() {
            0
        } else {
            if args.kind != ExpKind::Void {
                self.exp_to_next_reg(&mut args)?;
            }
            (self.fs.free_reg - base) as u8
        };
        f.kind = ExpKind::Call(self.emit(Op::Call {
            a: base as u8,
            b,
            c: 2,
        }));
        self.fix_line(line);
        // The call leaves one result (unless changed) where the function was.
        self.fs.free_reg = base + 1;
        Ok(())
    }

    /// `{ fields }`
    pub(crate) fn constructor(&mut self, t: &mut ExpDesc) -> Result<(), SyntaxError> {
        let line = self.lex.line;
        let pc = self.emit(Op::NewTable {
            a: 0,
            hash: 0,
            array: 0,
        });
        let table = self.fs.free_reg;
        let mut cc = Constructor {
            table,
            pending: ExpDesc::new(ExpKind::Void),
            hash_items: 0,
            stored: 0,
            to_store: 0,
        };
        *t = ExpDesc::new(ExpKind::NonReloc(table));
        self.reserve_regs(1)?;
        self.check_next(Token::Char(b'{'))?;
        loop {
            if self.lex.token == Token::Char(b'}') {
                break;
            }
            self.close_list_field(&mut cc)?;
            self.field(&mut cc)?;
            if !(self.test_next(Token::Char(b','))? || self.test_next(Token::Char(b';'))?) {
                break;
            }
        }
        self.check_match(Token::Char(b'}'), Token::Char(b'{'), line)?;
        self.last_list_field(&mut cc)?;
        self.set_table_size(pc, table, cc.stored, cc.hash_items);
        Ok(())
    }

    fn field(&mut self, cc: &mut Constructor) -> Result<(), SyntaxError> {
        match self.lex.token {
            Token::Name(_) => {
                if self.lex.look_ahead()? != Token::Char(b'=') {
                    self.list_field(cc)
                } else {
                    self.record_field(cc)
                }
            }
            Token::Char(b'[') => self.record_field(cc),
            _ => self.list_field(cc),
        }
    }

    /// `name = exp` or `[exp] = exp`
    fn record_field(&mut self, cc: &mut Constructor) -> Result<(), SyntaxError> {
        let reg = self.fs.free_reg;
        let mut key = if let Token::Name(_) = self.lex.token {
            ExpDesc::new(ExpKind::Str(self.check_name()?))
        } else {
            self.index()?
        };
        cc.hash_items += 1;
        self.check_next(Token::Char(b'='))?;
        let mut table = ExpDesc::new(ExpKind::NonReloc(cc.table));
        self.indexed(&mut table, &mut key)?;
        let mut value = ExpDesc::new(ExpKind::Void);
        self.expr(&mut value)?;
        self.store_var(&table, &mut value)?;
        self.fs.free_reg = reg;
        Ok(())
    }

    fn list_field(&mut self, cc: &mut Constructor) -> Result<(), SyntaxError> {
        self.expr(&mut cc.pending)?;
        cc.to_store += 1;
        Ok(())
    }

    /// Puts the previous list item in its register, flushing a full batch to the table.
    fn close_list_field(&mut self, cc: &mut Constructor) -> Result<(), SyntaxError> {
        if cc.pending.kind == ExpKind::Void {
            return Ok(());
        }
        self.exp_to_next_reg(&mut cc.pending)?;
        cc.pending = ExpDesc::new(ExpKind::Void);
        if cc.to_store == FIELDS_PER_FLUSH {
            self.set_list(cc.table, cc.stored, Some(cc.to_store));
            cc.stored += cc.to_store;
            cc.to_store = 0;
        }
        Ok(())
    }

    /// Stores the remaining list items; a call or `...` last gives all its values.
    fn last_list_field(&mut self, cc: &mut Constructor) -> Result<(), SyntaxError> {
        if cc.to_store == 0 {
            return Ok(());
        }
        if cc.pending.has_multiple_results() {
            self.set_multiple_returns(&cc.pending)?;
            self.set_list(cc.table, cc.stored, None);
            // The open item is not counted in the size hint.
            cc.stored += cc.to_store - 1;
        } else {
            if cc.pending.kind != ExpKind::Void {
                self.exp_to_next_reg(&mut cc.pending)?;
            }
            self.set_list(cc.table, cc.stored, Some(cc.to_store));
            cc.stored += cc.to_store;
        }
        Ok(())
    }

    /// `(params) block end` of a function defined on `line`; its closure goes in the next
    /// register.
    pub(crate) fn body(
        &mut self,
        e: &mut ExpDesc,
        is_method: bool,
        line: u32,
    ) -> Result<(), SyntaxError> {
        self.open_function(line);
        self.check_next(Token::Char(b'('))?;
        if is_method {
            let name = self.names.self_;
            self.new_local_var(name)?;
            self.adjust_local_vars(1);
        }
        self.parameter_list()?;
        self.check_next(Token::Char(b')'))?;
        self.statement_list()?;
        self.fs.proto.last_line_defined = self.lex.line;
        self.check_match(Token::End, Token::Function, line)?;
        let proto = self.close_function()?;
        self.fs.proto.protos.push(proto);
        let p = self.fs.proto.protos.len() as u32 - 1;
        *e = ExpDesc::new(ExpKind::Reloc(self.emit(Op::Closure { a: 0, p })));
        self.exp_to_next_reg(e)
    }

    fn parameter_list(&mut self) -> Result<(), SyntaxError> {
        let mut params = 0;
        let mut is_vararg = false;
        if self.lex.token != Token::Char(b')') {
            loop {
                match self.lex.token {
                    Token::Name(name) => {
                        self.lex.next()?;
                        self.new_local_var(name)?;
                        params += 1;
                    }
                    Token::Dots => {
                        self.lex.next()?;
                        is_vararg = true;
                    }
                    _ => return Err(self.syntax_error(b"<name> or '...' expected")),
                }
                if is_vararg || !self.test_next(Token::Char(b','))? {
                    break;
                }
            }
        }
        self.adjust_local_vars(params);
        self.fs.proto.num_params = self.fs.active_vars as u8;
        self.fs.proto.is_vararg |= is_vararg;
        self.reserve_regs(self.fs.active_vars)
    }
}
