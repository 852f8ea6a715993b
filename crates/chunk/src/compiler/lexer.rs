//! The lexer: source bytes to tokens, one token (and at most one token of look-ahead) at a
//! time, keeping the text of the last token for "near" in error messages.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::numeral::{parse_numeral, Numeral};
use super::SyntaxError;
use crate::number::write_int;

/// Index of an interned string (names and string literals).
pub(crate) type StrId = u32;

/// A token. Names and strings are interned, so equal names have equal ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Token {
    And,
    Break,
    Do,
    Else,
    ElseIf,
    End,
    False,
    For,
    Function,
    Goto,
    If,
    In,
    Local,
    Nil,
    Not,
    Or,
    Repeat,
    Return,
    Then,
    True,
    Until,
    While,
    /// `//`
    IDiv,
    /// `..`
    Concat,
    /// `...`
    Dots,
    /// `==`
    Eq,
    /// `>=`
    Ge,
    /// `<=`
    Le,
    /// `~=`
    Ne,
    /// `<<`
    Shl,
    /// `>>`
    Shr,
    /// `::`
    DbColon,
    Eof,
    Float(f64),
    Int(i64),
    Name(StrId),
    String(StrId),
    /// Any other single byte: `+`, `{`, `=`...
    Char(u8),
}

const RESERVED_WORDS: [(&[u8], Token); 22] = [
    (b"and", Token::And),
    (b"break", Token::Break),
    (b"do", Token::Do),
    (b"else", Token::Else),
    (b"elseif", Token::ElseIf),
    (b"end", Token::End),
    (b"false", Token::False),
    (b"for", Token::For),
    (b"function", Token::Function),
    (b"goto", Token::Goto),
    (b"if", Token::If),
    (b"in", Token::In),
    (b"local", Token::Local),
    (b"nil", Token::Nil),
    (b"not", Token::Not),
    (b"or", Token::Or),
    (b"repeat", Token::Repeat),
    (b"return", Token::Return),
    (b"then", Token::Then),
    (b"true", Token::True),
    (b"until", Token::Until),
    (b"while", Token::While),
];

/// How lua5.4 names a token in "expected" messages: `'end'`, `'='`, `<eof>`, `<name>`.
pub(crate) fn token_name(token: Token) -> Vec<u8> {
    let fixed: &[u8] = match token {
        Token::Char(c) => {
            return if (0x20..0x7f).contains(&c) {
                Vec::from([b'\'', c, b'\''])
            } else {
                let mut name = b"'<\\".to_vec();
                write_int(&mut name, c.into());
                name.extend_from_slice(b">'");
                name
            };
        }
        Token::IDiv => b"//",
        Token::Concat => b"..",
        Token::Dots => b"...",
        Token::Eq => b"==",
        Token::Ge => b">=",
        Token::Le => b"<=",
        Token::Ne => b"~=",
        Token::Shl => b"<<",
        Token::Shr => b">>",
        Token::DbColon => b"::",
        Token::Eof => return b"<eof>".to_vec(),
        Token::Float(_) => return b"<number>".to_vec(),
        Token::Int(_) => return b"<integer>".to_vec(),
        Token::Name(_) => return b"<name>".to_vec(),
        Token::String(_) => return b"<string>".to_vec(),
        word => match RESERVED_WORDS.iter().find(|(_, t)| *t == word) {
            Some((text, _)) => text,
            None => b"?",
        },
    };
    let mut out = Vec::with_capacity(fixed.len() + 2);
    out.push(b'\'');
    out.extend_from_slice(fixed);
    out.push(b'\'');
    out
}

/// Interned byte strings.
#[derive(Default)]
pub(crate) struct Strings {
    list: Vec<Box<[u8]>>,
    /// Boxed keys, like the constants' map and [`crate::function::Proto::load`]'s: one map
    /// type in the module.
    ids: BTreeMap<Box<[u8]>, StrId>,
}

impl Strings {
    pub(crate) fn intern(&mut self, bytes: &[u8]) -> StrId {
        if let Some(&id) = self.ids.get(bytes) {
            return id;
        }
        let id = self.list.len() as StrId;
        self.list.push(bytes.into());
        self.ids.insert(bytes.into(), id);
        id
    }

    pub(crate) fn get(&self, id: StrId) -> &[u8] {
        &self.list[id as usize]
    }
}

/// End of input, as a value of `current`.
const EOZ: i32 = -1;

/// The largest line number lua5.4 counts to.
const MAX_LINE: u32 = i32::MAX as u32;

fn is_alpha(c: i32) -> bool {
    c == i32::from(b'_') || (0..=0x7f).contains(&c) && (c as u8).is_ascii_alphabetic()
}

fn is_alnum(c: i32) -> bool {
    is_alpha(c) || is_digit(c)
}

fn is_digit(c: i32) -> bool {
    (0..=0x7f).contains(&c) && (c as u8).is_ascii_digit()
}

fn is_hex_digit(c: i32) -> bool {
    (0..=0x7f).contains(&c) && (c as u8).is_ascii_hexdigit()
}

fn is_space(c: i32) -> bool {
    matches!(c, 0x20 | 0x09..=0x0d)
}

fn is_newline(c: i32) -> bool {
    c == i32::from(b'\n') || c == i32::from(b'\r')
}

fn hex_value(c: i32) -> u32 {
    (c as u8 as char).to_digit(16).unwrap_or(0)
}

/// Appends the UTF-8 style encoding lua5.4 uses for `\u{x}`, `x` up to 2^31 - 1.
fn push_utf8(buffer: &mut Vec<u8>, mut x: u32) {
    if x < 0x80 {
        buffer.push(x as u8);
        return;
    }
    let mut continuation = [0u8; 6];
    let mut n = 0;
    // Largest value that still fits in the first byte beside its length marker.
    let mut first_byte_max = 0x3f;
    loop {
        continuation[n] = 0x80 | (x & 0x3f) as u8;
        n += 1;
        x >>= 6;
        first_byte_max >>= 1;
        if x <= first_byte_max {
            break;
        }
    }
    buffer.push(((!first_byte_max << 1) | x) as u8);
    buffer.extend(continuation[..n].iter().rev());
}

/// The lexer's state: the input position, the current token and the text of the last one.
pub(crate) struct Lexer<'s> {
    source: &'s [u8],
    /// Index of the byte after `current`.
    position: usize,
    /// The byte being looked at, or `EOZ`.
    current: i32,
    /// The line `current` is on.
    pub line: u32,
    /// The line of the last token consumed (instructions get this line).
    pub last_line: u32,
    /// The current token.
    pub token: Token,
    lookahead: Option<Token>,
    /// Text of the last token scanned, as lua5.4 shows it after "near".
    buffer: Vec<u8>,
    pub strings: Strings,
    chunk_id: Vec<u8>,
}

impl<'s> Lexer<'s> {
    pub(crate) fn new(source: &'s [u8], chunk_id: Vec<u8>) -> Self {
        let mut lexer = Lexer {
            source,
            position: 0,
            current: EOZ,
            line: 1,
            last_line: 1,
            token: Token::Eof,
            lookahead: None,
            buffer: Vec::new(),
            strings: Strings::default(),
            chunk_id,
        };
        lexer.next_char();
        lexer
    }

    /// An error at the current line: `chunk:line: message`, plus `near <token>` when given.
    pub(crate) fn error_near(&self, message: &[u8], near: Option<Token>) -> SyntaxError {
        let mut text = self.chunk_id.clone();
        text.push(b':');
        write_int(&mut text, self.line.into());
        text.extend_from_slice(b": ");
        text.extend_from_slice(message);
        // lua5.4 knows a NUL byte token by the code 0, which also means "no token".
        if let Some(token) = near.filter(|&t| t != Token::Char(0)) {
            text.extend_from_slice(b" near ");
            text.extend_from_slice(&self.token_text(token));
        }
        SyntaxError { message: text }
    }

    /// A token as it appeared, for "near": names, strings and numerals with their text.
    fn token_text(&self, token: Token) -> Vec<u8> {
        match token {
            Token::Name(_) | Token::String(_) | Token::Float(_) | Token::Int(_) => {
                // The message is a C string in lua5.4: it ends at the first NUL.
                let text = match self.buffer.iter().position(|&c| c == 0) {
                    Some(end) => &self.buffer[..end],
                    None => &self.buffer[..],
                };
                let mut out = Vec::with_capacity(text.len() + 2);
                out.push(b'\'');
                out.extend_from_slice(text);
                out.push(b'\'');
                out
            }
            other => token_name(other),
        }
    }

    /// Moves to the next token.
    pub(crate) fn next(&mut self) -> Result<(), SyntaxError> {
        self.last_line = self.line;
        self.token = match self.lookahead.take() {
            Some(token) => token,
            None => self.scan()?,
        };
        Ok(())
    }

    /// Scans the token after the current one without moving to it.
    pub(crate) fn look_ahead(&mut self) -> Result<Token, SyntaxError> {
        let token = self.scan()?;
        self.lookahead = Some(token);
        Ok(token)
    }

    fn next_char(&mut self) {
        self.current = match self.source.get(self.position) {
            Some(&c) => i32::from(c),
            None => EOZ,
        };
        self.position += 1;
    }

    fn save(&mut self, c: i32) {
        self.buffer.push(c as u8);
    }

    fn save_and_next(&mut self) {
        self.save(self.current);
        self.next_char();
    }

    fn remove_saved(&mut self, n: usize) {
        let len = self.buffer.len().saturating_sub(n);
        self.buffer.truncate(len);
    }

    fn check_next(&mut self, c: u8) -> bool {
        if self.current == i32::from(c) {
            self.next_char();
            true
        } else {
            false
        }
    }

    /// Saves and skips the current byte when it is one of `set`.
    fn check_next_of(&mut self, set: &[u8; 2]) -> bool {
        if self.current == i32::from(set[0]) || self.current == i32::from(set[1]) {
            self.save_and_next();
            true
        } else {
            false
        }
    }

    /// Skips a line break (`\n`, `\r`, `\n\r` or `\r\n`) and counts the line.
    fn skip_newline(&mut self) -> Result<(), SyntaxError> {
        let old = self.current;
        self.next_char();
        if is_newline(self.current) && self.current != old {
            self.next_char();
        }
        self.line += 1;
        if self.line >= MAX_LINE {
            return Err(self.error_near(b"chunk has too many lines", None));
        }
        Ok(())
    }

    fn scan(&mut self) -> Result<Token, SyntaxError> {
        self.buffer.clear();
        loop {
            let c = self.current;
            if c == EOZ {
                return Ok(Token::Eof);
            }
            let byte = c as u8;
            match byte {
                b'\n' | b'\r' => self.skip_newline()?,
                b' ' | b'\x0c' | b'\t' | b'\x0b' => self.next_char(),
                b'-' => {
                    self.next_char();
                    if self.current != i32::from(b'-') {
                        return Ok(Token::Char(b'-'));
                    }
                    self.next_char();
                    if self.current == i32::from(b'[') {
                        let level = self.skip_separator();
                        self.buffer.clear();
                        if level >= 2 {
                            self.read_long_string(level, false)?;
                            self.buffer.clear();
                            continue;
                        }
                    }
                    while !is_newline(self.current) && self.current != EOZ {
                        self.next_char();
                    }
                }
                b'[' => {
                    let level = self.skip_separator();
                    if level >= 2 {
                        return self.read_long_string(level, true);
                    } else if level == 0 {
                        return Err(self
                            .error_near(b"invalid long string delimiter", Some(Token::String(0))));
                    }
                    return Ok(Token::Char(b'['));
                }
                b'=' => {
                    self.next_char();
                    return Ok(if self.check_next(b'=') {
                        Token::Eq
                    } else {
                        Token::Char(b'=')
                    });
                }
                b'<' => {
                    self.next_char();
                    return Ok(if self.check_next(b'=') {
                        Token::Le
                    } else if self.check_next(b'<') {
                        Token::Shl
                    } else {
                        Token::Char(b'<')
                    });
                }
                b'>' => {
                    self.next_char();
                    return Ok(if self.check_next(b'=') {
                        Token::Ge
                    } else if self.check_next(b'>') {
                        Token::Shr
                    } else {
                        Token::Char(b'>')
                    });
                }
                b'/' => {
                    self.next_char();
                    return Ok(if self.check_next(b'/') {
                        Token::IDiv
                    } else {
                        Token::Char(b'/')
                    });
                }
                b'~' => {
                    self.next_char();
                    return Ok(if self.check_next(b'=') {
                        Token::Ne
                    } else {
                        Token::Char(b'~')
                    });
                }
                b':' => {
                    self.next_char();
                    return Ok(if self.check_next(b':') {
                        Token::DbColon
                    } else {
                        Token::Char(b':')
                    });
                }
                b'"' | b'\'' => return self.read_string(c),
                b'.' => {
                    self.save_and_next();
                    if self.check_next(b'.') {
                        return Ok(if self.check_next(b'.') {
                            Token::Dots
                        } else {
                            Token::Concat
                        });
                    } else if !is_digit(self.current) {
                        return Ok(Token::Char(b'.'));
                    }
                    return self.read_numeral();
                }
                b'0'..=b'9' => return self.read_numeral(),
                _ if is_alpha(c) => {
                    while is_alnum(self.current) {
                        self.save_and_next();
                    }
                    if let Some((_, word)) = RESERVED_WORDS
                        .iter()
                        .find(|(text, _)| *text == &self.buffer[..])
                    {
                        return Ok(*word);
                    }
                    return Ok(Token::Name(self.strings.intern(&self.buffer)));
                }
                _ => {
                    self.next_char();
                    return Ok(Token::Char(byte));
                }
            }
        }
    }

    /// Reads a numeral, liberally (the conversion rejects malformed ones): digits, hex digits,
    /// dots, exponent marks with their signs, and one touching letter to force an error.
    fn read_numeral(&mut self) -> Result<Token, SyntaxError> {
        let first = self.current;
        self.save_and_next();
        let mut exponent_marks = b"Ee";
        if first == i32::from(b'0') && self.check_next_of(b"xX") {
            exponent_marks = b"Pp";
        }
        loop {
            if self.check_next_of(exponent_marks) {
                self.check_next_of(b"-+");
            } else if is_hex_digit(self.current) || self.current == i32::from(b'.') {
                self.save_and_next();
            } else {
                break;
            }
        }
        if is_alpha(self.current) {
            self.save_and_next();
        }
        match parse_numeral(&self.buffer) {
            Some(Numeral::Int(i)) => Ok(Token::Int(i)),
            Some(Numeral::Float(f)) => Ok(Token::Float(f)),
            None => Err(self.error_near(b"malformed number", Some(Token::Float(0.0)))),
        }
    }

    /// Reads `[=*[` or `]=*]` up to its last bracket: the number of `=` plus 2 when well
    /// formed, 1 for a lone bracket, 0 for `[=` without its second bracket.
    fn skip_separator(&mut self) -> usize {
        let bracket = self.current;
        let mut count = 0;
        self.save_and_next();
        while self.current == i32::from(b'=') {
            self.save_and_next();
            count += 1;
        }
        if self.current == bracket {
            count + 2
        } else if count == 0 {
            1
        } else {
            0
        }
    }

    fn read_long_string(&mut self, level: usize, is_string: bool) -> Result<Token, SyntaxError> {
        let start_line = self.line;
        self.save_and_next();
        if is_newline(self.current) {
            self.skip_newline()?;
        }
        loop {
            match self.current {
                EOZ => {
                    let what: &[u8] = if is_string { b"string" } else { b"comment" };
                    let mut message = b"unfinished long ".to_vec();
                    message.extend_from_slice(what);
                    message.extend_from_slice(b" (starting at line ");
                    write_int(&mut message, start_line.into());
                    message.push(b')');
                    return Err(self.error_near(&message, Some(Token::Eof)));
                }
                c if c == i32::from(b']') => {
                    if self.skip_separator() == level {
                        self.save_and_next();
                        break;
                    }
                }
                c if is_newline(c) => {
                    self.save(i32::from(b'\n'));
                    self.skip_newline()?;
                    if !is_string {
                        self.buffer.clear();
                    }
                }
                _ => {
                    if is_string {
                        self.save_and_next();
                    } else {
                        self.next_char();
                    }
                }
            }
        }
        if !is_string {
            return Ok(Token::Eof);
        }
        let contents = &self.buffer[level..self.buffer.len() - level];
        Ok(Token::String(self.strings.intern(contents)))
    }

    /// Fails with `message` near the string read so far (plus the offending byte) unless `ok`.
    fn check_escape(&mut self, ok: bool, message: &[u8]) -> Result<(), SyntaxError> {
        if ok {
            return Ok(());
        }
        if self.current != EOZ {
            self.save_and_next();
        }
        Err(self.error_near(message, Some(Token::String(0))))
    }

    fn read_hex_digit(&mut self) -> Result<u32, SyntaxError> {
        self.save_and_next();
        self.check_escape(is_hex_digit(self.current), b"hexadecimal digit expected")?;
        Ok(hex_value(self.current))
    }

    fn read_hex_escape(&mut self) -> Result<i32, SyntaxError> {
        let high = self.read_hex_digit()?;
        let low = self.read_hex_digit()?;
        self.remove_saved(2);
        Ok(((high << 4) + low) as i32)
    }

    fn read_utf8_escape(&mut self) -> Result<(), SyntaxError> {
        // Saved bytes to drop at the end: '\', 'u', '{' and the digits.
        let mut saved = 4;
        self.save_and_next();
        self.check_escape(self.current == i32::from(b'{'), b"missing '{'")?;
        let mut value = self.read_hex_digit()?;
        loop {
            self.save_and_next();
            if !is_hex_digit(self.current) {
                break;
            }
            saved += 1;
            self.check_escape(value <= (0x7FFF_FFFF >> 4), b"UTF-8 value too large")?;
            value = (value << 4) + hex_value(self.current);
        }
        self.check_escape(self.current == i32::from(b'}'), b"missing '}'")?;
        self.next_char();
        self.remove_saved(saved);
        push_utf8(&mut self.buffer, value);
        Ok(())
    }

    fn read_decimal_escape(&mut self) -> Result<i32, SyntaxError> {
        let mut value = 0;
        let mut digits = 0;
        while digits < 3 && is_digit(self.current) {
            value = 10 * value + (self.current - i32::from(b'0'));
            self.save_and_next();
            digits += 1;
        }
        self.check_escape(value <= 255, b"decimal escape too large")?;
        self.remove_saved(digits);
        Ok(value)
    }

    fn read_string(&mut self, delimiter: i32) -> Result<Token, SyntaxError> {
        // The delimiters stay in the buffer for error messages.
        self.save_and_next();
        while self.current != delimiter {
            match self.current {
                EOZ => return Err(self.error_near(b"unfinished string", Some(Token::Eof))),
                c if is_newline(c) => {
                    return Err(self.error_near(b"unfinished string", Some(Token::String(0))));
                }
                c if c == i32::from(b'\\') => self.read_escape()?,
                _ => self.save_and_next(),
            }
        }
        self.save_and_next();
        let contents = &self.buffer[1..self.buffer.len() - 1];
        Ok(Token::String(self.strings.intern(contents)))
    }

    /// Reads an escape sequence; the `\` is kept in the buffer until the sequence is known
    /// to be valid, so that error messages show it.
    fn read_escape(&mut self) -> Result<(), SyntaxError> {
        self.save_and_next();
        let simple = match self.current {
            EOZ => return Ok(()), // the string loop reports it as unfinished
            c => c as u8,
        };
        let (value, skip_current) = match simple {
            b'a' => (0x07, true),
            b'b' => (0x08, true),
            b'f' => (0x0c, true),
            b'n' => (i32::from(b'\n'), true),
            b'r' => (i32::from(b'\r'), true),
            b't' => (i32::from(b'\t'), true),
            b'v' => (0x0b, true),
            b'x' => (self.read_hex_escape()?, true),
            b'u' => return self.read_utf8_escape(),
            b'\n' | b'\r' => {
                self.skip_newline()?;
                (i32::from(b'\n'), false)
            }
            b'\\' | b'"' | b'\'' => (self.current, true),
            b'z' => {
                self.remove_saved(1);
                self.next_char();
                while is_space(self.current) {
                    if is_newline(self.current) {
                        self.skip_newline()?;
                    } else {
                        self.next_char();
                    }
                }
                return Ok(());
            }
            _ => {
                self.check_escape(is_digit(self.current), b"invalid escape sequence")?;
                (self.read_decimal_escape()?, false)
            }
        };
        if skip_current {
            self.next_char();
        }
        self.remove_saved(1);
        self.save(value);
        Ok(())
    }
}
