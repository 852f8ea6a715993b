//! Tests of the compiler: lua5.4's error messages and literal values (data generated with
//! lua5.4), the corpora, code shapes, limits, and a fuzz run.

mod check;
mod codegen;
mod corpus;
mod data;
mod fuzz;
mod lexer;
mod limits;

use alloc::string::String;
use alloc::vec::Vec;

use super::{compile, listing, SyntaxError};
use crate::proto::FunctionProto;

/// Compiles `source` named `=test`, failing the test with lua's message if it does not
/// compile, and checks the result's structure.
fn compiles(source: &str) -> FunctionProto {
    match compile(source.as_bytes(), b"=test") {
        Ok(proto) => {
            check::check_structure(&proto);
            proto
        }
        Err(SyntaxError { message }) => {
            panic!(
                "{:?} does not compile: {}",
                source,
                String::from_utf8_lossy(&message)
            )
        }
    }
}

/// The error message for `source` named `=test`.
fn error_of(source: &str) -> String {
    match compile(source.as_bytes(), b"=test") {
        Ok(_) => panic!("{:?} compiles", source),
        Err(SyntaxError { message }) => String::from_utf8_lossy(&message).into_owned(),
    }
}

/// The main function's code as `NAME operands` lines (no pcs, lines or comments), for
/// comparing code shapes.
fn code_of(source: &str) -> Vec<String> {
    let proto = compiles(source);
    listing(&proto)
        .lines()
        .skip(2)
        .take(proto.code.len())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.get(4) {
                Some(operands) => alloc::format!("{} {}", fields[3], operands),
                None => String::from(fields[3]),
            }
        })
        .collect()
}
