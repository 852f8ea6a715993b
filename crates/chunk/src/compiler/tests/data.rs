//! Cases whose expected results lua5.4 produced (see the generators in `data/`): syntax error
//! messages and the values of literals and folded constants.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{check, compile};
use crate::bytecode::Op;
use crate::proto::{Constant, FunctionProto};

/// Undoes the generators' escaping: `\xHH` is a byte (backslashes are always escaped),
/// everything else is itself.
fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let hex = core::str::from_utf8(&bytes[i + 2..i + 4]).expect("escape");
            out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The `key: value` lines of a data file, in order, values unescaped.
fn fields<'a>(data: &'a str) -> impl Iterator<Item = (&'a str, Vec<u8>)> + 'a {
    data.lines().map(|line| {
        let (key, value) = line
            .split_once(": ")
            .unwrap_or((line.trim_end_matches(':'), ""));
        (key, unescape(value))
    })
}

#[test]
fn syntax_errors_are_worded_as_lua_does() {
    let data = include_str!("data/syntax_errors.txt");
    let mut lines = fields(data);
    let mut cases = 0;
    let mut failures = Vec::new();
    while let Some((_, name)) = lines.next() {
        let (_, source) = lines.next().expect("source line");
        let (_, expected) = lines.next().expect("error line");
        cases += 1;
        let got = match compile(&source, &name) {
            Ok(proto) => {
                check::check_structure(&proto);
                Vec::new()
            }
            Err(error) => error.message,
        };
        if got != expected {
            failures.push(format!(
                "source {:?}\n  expected {:?}\n  got      {:?}",
                String::from_utf8_lossy(&source[..source.len().min(120)]),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&got)
            ));
        }
    }
    assert!(cases > 200, "only {} cases read", cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases,
        failures.join("\n")
    );
}

/// The value `return <expression>` loads, when the compiler made it a constant.
fn constant_value(proto: &FunctionProto) -> Option<Vec<u8>> {
    let value = match proto.code.first()? {
        Op::LoadI { i, .. } => format!("int {}", i).into_bytes(),
        Op::LoadF { f, .. } => format!("float {:016x}", (f64::from(*f)).to_bits()).into_bytes(),
        Op::LoadK { k, .. } => match proto.constants.get(*k as usize)? {
            Constant::Integer(i) => format!("int {}", i).into_bytes(),
            Constant::Float(f) => format!("float {:016x}", f.to_bits()).into_bytes(),
            Constant::String(s) => [&b"string "[..], s].concat(),
            _ => return None,
        },
        _ => return None,
    };
    matches!(proto.code.get(1), Some(Op::Return1 { .. })).then_some(value)
}

#[test]
fn literals_and_folded_constants_have_lua_values() {
    let data = include_str!("data/literals.txt");
    let mut lines = fields(data);
    let mut cases = 0;
    let mut failures = Vec::new();
    while let Some((_, source)) = lines.next() {
        let (_, expected) = lines.next().expect("value line");
        cases += 1;
        let mut chunk = b"return ".to_vec();
        chunk.extend_from_slice(&source);
        let got = match compile(&chunk, b"=literal") {
            Ok(proto) => constant_value(&proto),
            Err(error) => Some(error.message),
        };
        if got.as_deref() != Some(&expected[..]) {
            failures.push(format!(
                "{:?}: expected {:?}, got {:?}",
                String::from_utf8_lossy(&source),
                String::from_utf8_lossy(&expected),
                got.map(|g| String::from_utf8_lossy(&g).into_owned())
            ));
        }
    }
    assert!(cases > 100, "only {} cases read", cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases,
        failures.join("\n")
    );
}
