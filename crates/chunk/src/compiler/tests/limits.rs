//! Limits: deep nesting stops with lua5.4's error before the native stack runs out, long
//! suffix chains cost no stack, large functions stay well formed.

extern crate std;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{compiles, error_of};
use crate::bytecode::Op;
use crate::compiler::compile;

/// Native stack for the nesting tests. At lua5.4's nesting limit an optimised build needs
/// under 200 KiB (about 900 bytes a level at worst, nested function statements), well inside
/// wasm's stack; unoptimised frames are about six times larger.
const SMALL_STACK: usize = if cfg!(debug_assertions) {
    2 << 20
} else {
    256 << 10
};

fn on_small_stack<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(job)
        .expect("thread")
        .join()
        .expect("no stack overflow")
}

/// Sources nested `depth` deep in every way the grammar allows.
fn nested_sources(depth: usize) -> Vec<String> {
    let rep = |s: &str, n: usize| s.repeat(n);
    Vec::from([
        format!("return {}1{}", rep("(", depth), rep(")", depth)),
        format!("return {}{}", rep("{", depth), rep("}", depth)),
        format!("return {}1", rep("- ", depth)),
        format!("return {}1", rep("not ", depth)),
        format!("return {}a", rep("a .. ", depth)),
        format!("return {}a", rep("a ^ ", depth)),
        format!("return {}{}", rep("f(", depth), rep(")", depth)),
        format!("return {}1{}", rep("t[", depth), rep("]", depth)),
        format!("{}{}", rep("do ", depth), rep("end ", depth)),
        format!("{}{}", rep("while x do ", depth), rep("end ", depth)),
        format!("{}{}", rep("repeat ", depth), rep("until x ", depth)),
        format!("{}{}", rep("if x then ", depth), rep("end ", depth)),
        format!("{}{}", rep("for i = 1, 2 do ", depth), rep("end ", depth)),
        format!("{}{}", rep("for k in x do ", depth), rep("end ", depth)),
        format!("{}{}", rep("function f() ", depth), rep("end ", depth)),
        format!("{}{}", rep("x = function() ", depth), rep("end ", depth)),
        format!(
            "{}{}",
            rep("local function f() ", depth),
            rep("end ", depth)
        ),
        format!("local a; a{} = 1", rep(", a", depth)),
        rep("::l:: ", depth),
        format!("return {}", rep("{", depth)),
        format!("return {}", rep("(", depth)),
    ])
}

#[test]
fn deep_nesting_ends_in_lua_error_not_stack_exhaustion() {
    on_small_stack(|| {
        for depth in [150, 400, 5000] {
            for source in nested_sources(depth) {
                let result = compile(source.as_bytes(), b"=deep");
                if depth > 200 {
                    let message = result
                        .err()
                        .map(|e| String::from_utf8_lossy(&e.message).into_owned());
                    assert!(message.is_some(), "{:.40}... x{} compiles", source, depth);
                }
            }
        }
    });
}

#[test]
fn long_suffix_chains_compile() {
    on_small_stack(|| {
        let fields = format!("return {}b", "a.".repeat(1500));
        compile(fields.as_bytes(), b"=chain").expect("1500 fields");
        let suffixes = format!("return a{}", ".b[1]:c()(d)'e'{{}}".repeat(1000));
        compile(suffixes.as_bytes(), b"=chain").expect("5000 suffixes");
        let methods = format!("return a{}", ":b()".repeat(1000));
        compile(methods.as_bytes(), b"=chain").expect("1000 method calls");
        let ors = format!("return {}a", "a or b and ".repeat(20000));
        compile(ors.as_bytes(), b"=chain").expect("40000 and/or");
    });
}

#[test]
fn registers_run_out_at_lua_limit() {
    let args = |n: usize| format!("f({})", ["x"; 300][..n].join(","));
    compiles(&args(253));
    assert!(error_of(&args(254)).contains("function or expression needs too many registers"));
    let locals = |n: usize| {
        let names: Vec<String> = (0..n).map(|i| format!("a{}", i)).collect();
        format!("local {}", names.join(","))
    };
    compiles(&locals(200));
    assert!(
        error_of(&locals(201)).contains("too many local variables (limit is 200) in main function")
    );
}

#[test]
fn constants_beyond_rk_range_go_through_registers() {
    let mut source = String::from("local t = {}\n");
    for i in 0..300 {
        source.push_str(&format!("t.k{} = 'v{}' if t == 'w{}' then end\n", i, i, i));
    }
    let proto = compiles(&source);
    assert!(proto.constants.len() > 600);
    for op in &proto.code {
        match *op {
            Op::SetField { c, kc: true, .. } | Op::SetTable { c, kc: true, .. } => {
                assert!(u32::from(c) < 256)
            }
            _ => {}
        }
    }
    assert!(proto
        .code
        .iter()
        .any(|op| matches!(op, Op::SetField { kc: false, .. })));
    assert!(proto.code.iter().any(|op| matches!(op, Op::Eq { .. })));
}

#[test]
fn big_functions_stay_well_formed() {
    let items: Vec<String> = (0..100_000).map(|i| format!("{}", i % 1000)).collect();
    let proto = compiles(&format!("return {{{}}}", items.join(",")));
    assert!(proto.code.iter().any(|op| matches!(
        op,
        Op::SetList {
            start: 99_950,
            n: 50,
            ..
        }
    )));
    let long_string = format!("return '{}'", "x".repeat(1 << 20));
    compiles(&long_string);
    let lines = format!("{}return x", "\n".repeat(100_000));
    let proto = compiles(&lines);
    assert_eq!(proto.lines[0], 100_001);
}

#[test]
fn many_labels_and_gotos_compile_in_linear_time() {
    let count = 20_000;
    let labels: String = (0..count).map(|i| format!("::l{}:: x = 1\n", i)).collect();
    let forward: String = (0..count).map(|i| format!("goto l{}\n", i)).collect();
    let backward: String = (0..count)
        .map(|i| format!("::b{}:: x = 1 goto b{}\n", i, i))
        .collect();
    let ors = format!("x = a{}", " or a".repeat(count * 5));
    for source in [
        labels.clone(),
        format!("do {} end {}", forward, labels),
        backward,
        ors,
    ] {
        let start = std::time::Instant::now();
        compiles(&source);
        assert!(
            start.elapsed() < std::time::Duration::from_secs(2),
            "{:.30}... took {:?}",
            source,
            start.elapsed()
        );
    }
}
