//! The lexer on its own: token kinds, lines, comments, long brackets.

use alloc::vec::Vec;

use crate::compiler::lexer::{Lexer, Token};

/// Every token of `source` with its line, up to the end (or an error, as `None`).
fn tokens(source: &str) -> Vec<Option<(Token, u32)>> {
    let mut lexer = Lexer::new(source.as_bytes(), b"test".to_vec());
    let mut out = Vec::new();
    loop {
        if lexer.next().is_err() {
            out.push(None);
            return out;
        }
        if lexer.token == Token::Eof {
            return out;
        }
        out.push(Some((lexer.token, lexer.line)));
    }
}

fn kinds(source: &str) -> Vec<Token> {
    tokens(source)
        .into_iter()
        .map(|t| t.map_or(Token::Char(b'!'), |(token, _)| token))
        .collect()
}

fn lines(source: &str) -> Vec<u32> {
    tokens(source)
        .into_iter()
        .map(|t| t.map_or(0, |(_, line)| line))
        .collect()
}

#[test]
fn symbols_take_the_longest_match() {
    use Token::*;
    assert_eq!(
        kinds("== = >= > >> <= < << ~= ~ // / :: : ... .. . ; , [ ] { } ( ) + - * % ^ # & |"),
        [
            Eq,
            Char(b'='),
            Ge,
            Char(b'>'),
            Shr,
            Le,
            Char(b'<'),
            Shl,
            Ne,
            Char(b'~'),
            IDiv,
            Char(b'/'),
            DbColon,
            Char(b':'),
            Dots,
            Concat,
            Char(b'.'),
            Char(b';'),
            Char(b','),
            Char(b'['),
            Char(b']'),
            Char(b'{'),
            Char(b'}'),
            Char(b'('),
            Char(b')'),
            Char(b'+'),
            Char(b'-'),
            Char(b'*'),
            Char(b'%'),
            Char(b'^'),
            Char(b'#'),
            Char(b'&'),
            Char(b'|'),
        ]
    );
    assert_eq!(kinds("a....b").len(), 4, "'...' then '.'");
    assert_eq!(kinds("===").len(), 2);
    assert_eq!(kinds("<<=").len(), 2);
}

#[test]
fn reserved_words_and_names() {
    use Token::*;
    let words = "and break do else elseif end false for function goto if in local nil not or \
                 repeat return then true until while";
    assert_eq!(
        kinds(words),
        [
            And, Break, Do, Else, ElseIf, End, False, For, Function, Goto, If, In, Local, Nil, Not,
            Or, Repeat, Return, Then, True, Until, While
        ]
    );
    for name in [
        "_", "_ENV", "nil_", "End", "AND", "goto1", "a1b2", "__index",
    ] {
        assert!(matches!(kinds(name)[..], [Name(_)]), "{} is a name", name);
    }
    // Names are interned: the same name is the same id.
    match kinds("abc xyz abc")[..] {
        [Name(a), Name(b), Name(c)] => {
            assert_eq!(a, c);
            assert_ne!(a, b);
        }
        ref other => panic!("{:?}", other),
    }
}

#[test]
fn bytes_outside_ascii_are_single_tokens() {
    assert_eq!(kinds("\u{e9}"), [Token::Char(0xc3), Token::Char(0xa9)]);
    assert_eq!(kinds("\0"), [Token::Char(0)]);
}

#[test]
fn every_line_break_style_counts_one_line() {
    assert_eq!(lines("a\nb"), [1, 2]);
    assert_eq!(lines("a\r\nb"), [1, 2]);
    assert_eq!(lines("a\n\rb"), [1, 2]);
    assert_eq!(lines("a\rb"), [1, 2]);
    assert_eq!(lines("a\r\rb"), [1, 3]);
    assert_eq!(lines("a\n\nb"), [1, 3]);
    assert_eq!(lines("a\r\n\r\nb"), [1, 3]);
    assert_eq!(lines("a\n\r\n\rb"), [1, 3]);
    assert_eq!(lines("a\r\n\nb"), [1, 3]);
}

#[test]
fn a_token_ends_on_its_last_line() {
    assert_eq!(lines("a [[x\ny\nz]] b"), [1, 3, 3]);
    assert_eq!(lines("a 'x\\\ny' b"), [1, 2, 2]);
    assert_eq!(lines("a 'x\\z\n\n  y' b"), [1, 3, 3]);
}

#[test]
fn comments_are_skipped() {
    assert_eq!(lines("a -- comment\nb"), [1, 2]);
    assert_eq!(lines("a --[[ long\ncomment ]] b"), [1, 2]);
    assert_eq!(lines("a --[==[ ]] ]=] \n ]==] b"), [1, 2]);
    assert_eq!(lines("a --[ short\nb"), [1, 2]);
    assert_eq!(lines("a --[= short\nb"), [1, 2]);
    assert_eq!(lines("a --"), [1]);
    assert_eq!(lines("--[[]]a"), [1]);
    assert_eq!(kinds("a --[[ unfinished").last(), Some(&Token::Char(b'!')));
}

#[test]
fn long_brackets() {
    assert!(matches!(kinds("[[x]]")[..], [Token::String(_)]));
    assert!(matches!(kinds("[==[x]==]")[..], [Token::String(_)]));
    assert_eq!(kinds("[ [")[..], [Token::Char(b'['), Token::Char(b'[')]);
    assert_eq!(kinds("[=")[..], [Token::Char(b'!')]);
    assert_eq!(kinds("a[b]")[..].len(), 4);
}

#[test]
fn strings_are_interned_with_names() {
    match kinds("x 'x' [[x]]")[..] {
        [Token::Name(a), Token::String(b), Token::String(c)] => {
            assert_eq!(a, b);
            assert_eq!(b, c);
        }
        ref other => panic!("{:?}", other),
    }
}

#[test]
fn numerals() {
    assert_eq!(
        kinds("3 3.0 0x10 .5 3e2"),
        [
            Token::Int(3),
            Token::Float(3.0),
            Token::Int(16),
            Token::Float(0.5),
            Token::Float(300.0)
        ]
    );
    // A numeral touching a name or a second dot is one malformed token.
    assert_eq!(kinds("3x"), [Token::Char(b'!')]);
    assert_eq!(kinds("3..2"), [Token::Char(b'!')]);
    assert_eq!(
        kinds("3 .. 2"),
        [Token::Int(3), Token::Concat, Token::Int(2)]
    );
    assert_eq!(kinds("0xep1"), [Token::Float(28.0)]);
    assert_eq!(
        kinds("1e-2-1"),
        [Token::Float(0.01), Token::Char(b'-'), Token::Int(1)]
    );
    assert_eq!(
        kinds("0xe-1"),
        [Token::Int(14), Token::Char(b'-'), Token::Int(1)]
    );
}
