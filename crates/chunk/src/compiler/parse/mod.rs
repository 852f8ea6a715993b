//! The parser: a recursive-descent reader of the Lua 5.4 grammar that drives the code
//! generator as it goes (one pass, like lua5.4's, so errors, lines and registers come out in
//! the same order as there).

mod expressions;
mod labels;
mod scope;
mod statements;

use alloc::rc::Rc;
use alloc::vec::Vec;

use super::code::{FuncState, VarDesc};
use super::lexer::{token_name, Lexer, StrId, Token};
use super::SyntaxError;
use crate::number::write_int;
use crate::proto::FunctionProto;
use labels::{Gotos, Labels};

/// Nesting lua5.4 allows before "C stack overflow": its limit of 200 C levels, minus the two a
/// `load` called from a main chunk already uses.
const MAX_SYNTAX_LEVELS: u32 = 198;

/// Names the compiler itself uses.
pub(crate) struct KnownNames {
    pub(crate) env: StrId,
    pub(crate) break_: StrId,
    pub(crate) self_: StrId,
    pub(crate) for_state: StrId,
}

/// The compiler's whole state while it reads a chunk.
pub(crate) struct Parser<'s> {
    pub(crate) lex: Lexer<'s>,
    /// The function being compiled.
    pub(crate) fs: FuncState,
    /// The functions enclosing it, outermost first.
    pub(crate) enclosing: Vec<FuncState>,
    /// Variables declared and not yet out of scope, for every function being compiled.
    pub(crate) vars: Vec<VarDesc>,
    /// Visible labels, for every function being compiled.
    pub(crate) labels: Labels,
    /// Gotos not yet matched with a label.
    pub(crate) gotos: Gotos,
    pub(crate) names: KnownNames,
    source: Rc<[u8]>,
    /// Syntax nesting depth (statements, subexpressions, assignment targets).
    depth: u32,
}

impl<'s> Parser<'s> {
    fn new(source: &'s [u8], chunk_name: Rc<[u8]>) -> Self {
        let mut lex = Lexer::new(source, super::chunkid::chunk_id(&chunk_name));
        let names = KnownNames {
            env: lex.strings.intern(b"_ENV"),
            break_: lex.strings.intern(b"break"),
            self_: lex.strings.intern(b"self"),
            for_state: lex.strings.intern(b"(for state)"),
        };
        Parser {
            lex,
            fs: FuncState::new(chunk_name.clone(), 0, 0, 0),
            enclosing: Vec::new(),
            vars: Vec::new(),
            labels: Labels::default(),
            gotos: Gotos::default(),
            names,
            source: chunk_name,
            depth: 0,
        }
    }

    /// Compiles a whole chunk: a vararg main function with the single upvalue `_ENV`.
    pub(crate) fn parse_chunk(
        source: &'s [u8],
        chunk_name: Rc<[u8]>,
    ) -> Result<FunctionProto, SyntaxError> {
        let mut parser = Parser::new(source, chunk_name);
        parser.main_function()
    }

    /// An error with the current token after "near".
    pub(crate) fn syntax_error(&self, message: &[u8]) -> SyntaxError {
        self.lex.error_near(message, Some(self.lex.token))
    }

    /// An error that is about meaning rather than a token: no "near".
    pub(crate) fn semantic_error(&self, message: &[u8]) -> SyntaxError {
        self.lex.error_near(message, None)
    }

    pub(crate) fn error_expected(&self, token: Token) -> SyntaxError {
        let mut message = token_name(token);
        message.extend_from_slice(b" expected");
        self.syntax_error(&message)
    }

    /// "too many <what> (limit is <limit>) in <function>", for the function defined on `line`.
    pub(crate) fn limit_error(&self, line: u32, limit: u32, what: &str) -> SyntaxError {
        let mut message = b"too many ".to_vec();
        message.extend_from_slice(what.as_bytes());
        message.extend_from_slice(b" (limit is ");
        write_int(&mut message, limit.into());
        if line == 0 {
            message.extend_from_slice(b") in main function");
        } else {
            message.extend_from_slice(b") in function at line ");
            write_int(&mut message, line.into());
        }
        self.syntax_error(&message)
    }

    /// Skips the current token if it is `token`.
    pub(crate) fn test_next(&mut self, token: Token) -> Result<bool, SyntaxError> {
        if self.lex.token == token {
            self.lex.next()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub(crate) fn check(&self, token: Token) -> Result<(), SyntaxError> {
        if self.lex.token == token {
            Ok(())
        } else {
            Err(self.error_expected(token))
        }
    }

    pub(crate) fn check_next(&mut self, token: Token) -> Result<(), SyntaxError> {
        self.check(token)?;
        self.lex.next()
    }

    /// Skips `what`, which closes `who` opened on line `line`.
    pub(crate) fn check_match(
        &mut self,
        what: Token,
        who: Token,
        line: u32,
    ) -> Result<(), SyntaxError> {
        if self.test_next(what)? {
            return Ok(());
        }
        if line == self.lex.line {
            return Err(self.error_expected(what));
        }
        let mut message = token_name(what);
        message.extend_from_slice(b" expected (to close ");
        message.extend_from_slice(&token_name(who));
        message.extend_from_slice(b" at line ");
        write_int(&mut message, line.into());
        message.push(b')');
        Err(self.syntax_error(&message))
    }

    pub(crate) fn check_name(&mut self) -> Result<StrId, SyntaxError> {
        match self.lex.token {
            Token::Name(name) => {
                self.lex.next()?;
                Ok(name)
            }
            _ => Err(self.error_expected(Token::Name(0))),
        }
    }

    /// Enters one level of syntactic nesting.
    pub(crate) fn enter_level(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth >= MAX_SYNTAX_LEVELS {
            // lua5.4 raises this as a plain runtime error: no position.
            return Err(SyntaxError {
                message: b"C stack overflow".to_vec(),
            });
        }
        Ok(())
    }

    pub(crate) fn leave_level(&mut self) {
        self.depth -= 1;
    }

    pub(crate) fn source(&self) -> Rc<[u8]> {
        self.source.clone()
    }
}
