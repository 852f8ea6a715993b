//! The shape of generated code: registers, specialised instructions, jumps, closing, debug
//! information. Layouts follow `luac5.4 -l -l` except where our instruction set differs.

use alloc::string::String;
use alloc::vec::Vec;

use super::{code_of, compiles};
use crate::bytecode::Op;
use crate::compiler::compile;
use crate::proto::Constant;

fn assert_code(source: &str, expected: &[&str]) {
    let code = code_of(source);
    let code: Vec<&str> = code.iter().map(String::as_str).collect();
    assert_eq!(code, expected, "code of {:?}", source);
}

#[test]
fn locals_take_registers_in_order_and_temporaries_go_above() {
    assert_code(
        "local a, b = 1, 2 local c = a + b",
        &["LOADI R0 1", "LOADI R1 2", "ADD R2 R0 R1", "RETURN0"],
    );
    assert_code("local a local b", &["LOADNIL R0 1", "RETURN0"]);
    assert_code(
        "local a, b, c = 1",
        &["LOADI R0 1", "LOADNIL R1 1", "RETURN0"],
    );
    assert_code(
        "local a = 1, 2, 3",
        &["LOADI R0 1", "LOADI R1 2", "LOADI R2 3", "RETURN0"],
    );
    assert_code(
        "local a, b = f()",
        &["GETTABUP R0 U0 K0", "CALL R0 1 3", "RETURN0"],
    );
    assert_code("local a, b, c = ...", &["VARARG R0 4", "RETURN0"]);
}

#[test]
fn globals_go_through_env() {
    assert_code(
        "x = y",
        &["GETTABUP R0 U0 K1", "SETTABUP U0 K0 R0", "RETURN0"],
    );
    assert_code("x = 1", &["SETTABUP U0 K0 K1 (1)", "RETURN0"]);
    assert_code(
        "local _ENV = {} x = 1",
        &["NEWTABLE R0 0 0", "SETFIELD R0 K0 K1 (1)", "RETURN0"],
    );
    let proto = compiles("return function() return x end");
    let inner = &proto.protos[0];
    assert_eq!(inner.upvalues.len(), 1);
    assert_eq!(&*inner.upvalues[0].name, b"_ENV");
    assert!(!inner.upvalues[0].in_stack);
    assert_eq!(inner.upvalues[0].index, 0);
}

#[test]
fn the_main_function_is_vararg_with_env() {
    let proto = compiles("");
    assert!(proto.is_vararg);
    assert_eq!(proto.num_params, 0);
    assert_eq!(proto.line_defined, 0);
    assert_eq!(proto.upvalues.len(), 1);
    assert!(proto.upvalues[0].in_stack);
    assert_eq!(proto.upvalues[0].index, 0);
    assert_eq!(&*proto.upvalues[0].name, b"_ENV");
    assert_eq!(proto.code, [Op::Return0]);
    assert_eq!(proto.max_stack, 2);
    assert_eq!(&*proto.source, b"=test");
}

#[test]
fn the_chunk_name_ends_at_a_nul() {
    let proto = compile(b"return", b"@a.lua\0rest").expect("compiles");
    assert_eq!(&*proto.source, b"@a.lua");
}

#[test]
fn fields_integer_keys_and_other_keys() {
    assert_code(
        "local t = {} t.x = t.y t[1] = t[255] t[256] = t[-1] t[1.0] = t[k]",
        &[
            "NEWTABLE R0 0 0",
            "GETFIELD R1 R0 K1",
            "SETFIELD R0 K0 R1",
            "GETI R1 R0 255",
            "SETI R0 1 R1",
            "LOADI R1 256",
            "LOADI R2 -1",
            "GETTABLE R2 R0 R2",
            "SETTABLE R0 R1 R2",
            "LOADF R1 1.0",
            "GETTABUP R2 U0 K2",
            "GETTABLE R2 R0 R2",
            "SETTABLE R0 R1 R2",
            "RETURN0",
        ],
    );
}

#[test]
fn constants_are_shared_and_integers_differ_from_floats() {
    let proto =
        compiles("f(1099511627776, 1099511627776.0, 1099511627776, 's', 's', 1099511627776.0)");
    assert_eq!(
        proto.constants,
        [
            Constant::String(b"f"[..].into()),
            Constant::Integer(1_099_511_627_776),
            Constant::Float(1_099_511_627_776.0),
            Constant::String(b"s"[..].into()),
        ]
    );
}

#[test]
fn negative_zero_keeps_its_sign() {
    // Not folded (lua5.4 folds no zero result), so the sign survives to run time.
    assert_code(
        "return -0.0",
        &["LOADF R0 0.0", "UNM R0 R0", "RETURN1 R0", "RETURN0"],
    );
    assert_code(
        "return 0.0 * -1",
        &["LOADF R0 0.0", "MULK R0 R0 K0", "RETURN1 R0", "RETURN0"],
    );
}

#[test]
fn arithmetic_with_immediates_and_constants() {
    assert_code(
        "local x = ... return x + 1, x + 40000, x - 1, x * 2, x / 2, x // 2.5, x % 3, x ^ 2",
        &[
            "VARARG R0 2",
            "ADDI R1 R0 1",
            "ADDK R2 R0 K0",
            "SUBK R3 R0 K1",
            "MULK R4 R0 K2",
            "DIVK R5 R0 K2",
            "IDIVK R6 R0 K3",
            "MODK R7 R0 K4",
            "POWK R8 R0 K2",
            "RETURN R1 9",
            "RETURN0",
        ],
    );
    assert_code(
        "local x = ... return x & 1, x | 2, x ~ 3, x >> 1, 1 << x, x << 1, x & 1.0",
        &[
            "VARARG R0 2",
            "BANDK R1 R0 K0",
            "BORK R2 R0 K1",
            "BXORK R3 R0 K2",
            "SHRI R4 R0 1",
            "SHLI R5 1 R0",
            "LOADI R6 1",
            "SHL R6 R0 R6",
            "LOADF R7 1.0",
            "BAND R7 R0 R7",
            "RETURN R1 8",
            "RETURN0",
        ],
    );
}

#[test]
fn operands_keep_their_order_for_metamethods() {
    assert_code(
        "local x = ... return 1 + x",
        &[
            "VARARG R0 2",
            "LOADI R1 1",
            "ADD R1 R1 R0",
            "RETURN1 R1",
            "RETURN0",
        ],
    );
    assert_code(
        "local x = ... return 2 * x",
        &[
            "VARARG R0 2",
            "LOADI R1 2",
            "MUL R1 R1 R0",
            "RETURN1 R1",
            "RETURN0",
        ],
    );
    assert_code(
        "local x = ... return 3 & x",
        &[
            "VARARG R0 2",
            "LOADI R1 3",
            "BAND R1 R1 R0",
            "RETURN1 R1",
            "RETURN0",
        ],
    );
}

#[test]
fn comparisons_fuse_with_their_jumps() {
    let code = code_of(
        "local x, y = ... return x == y, x == 'a', x == 1, x ~= nil, x < y, x <= 3, 3 < x, x > 4, 5 >= x",
    );
    for expected in [
        "EQ R0 R1 true",
        "EQK R0 K0 true",
        "EQI R0 1 true",
        "EQK R0 K1 false",
        "LT R0 R1 true",
        "LEI R0 3 true",
        "GTI R0 3 true",
        "GTI R0 4 true",
        "LEI R0 5 true",
    ] {
        assert!(
            code.iter().any(|op| op.starts_with(expected)),
            "no {} in {:?}",
            expected,
            code
        );
    }
    // Floats are no immediates of order comparisons: a metamethod must see the float.
    assert_code(
        "local x = ... return x < 1.0",
        &[
            "VARARG R0 2",
            "LOADF R1 1.0",
            "LT R0 R1 true",
            "LFALSESKIP R1",
            "LOADTRUE R1",
            "RETURN1 R1",
            "RETURN0",
        ],
    );
}

#[test]
fn conditions_and_values_of_and_or_not() {
    assert_code(
        "local a, b = ... local c = a and b",
        &[
            "VARARG R0 3",
            "TESTSET R2 R0 false",
            "MOVE R2 R1",
            "RETURN0",
        ],
    );
    assert_code(
        "local a, b = ... local c = a or b",
        &["VARARG R0 3", "TESTSET R2 R0 true", "MOVE R2 R1", "RETURN0"],
    );
    assert_code(
        "local a = ... if not a then a = 1 end",
        &["VARARG R0 2", "TEST R0 true", "LOADI R0 1", "RETURN0"],
    );
    assert_code(
        "return not nil, not 1",
        &["LOADTRUE R0", "LOADFALSE R1", "RETURN R0 3", "RETURN0"],
    );
}

#[test]
fn concatenation_uses_one_instruction_for_a_chain() {
    assert_code(
        "local a, b, c = ... return a .. b .. c",
        &[
            "VARARG R0 4",
            "MOVE R3 R0",
            "MOVE R4 R1",
            "MOVE R5 R2",
            "CONCAT R3 3",
            "RETURN1 R3",
            "RETURN0",
        ],
    );
}

#[test]
fn constructors_flush_every_fifty_items() {
    let items: Vec<String> = (1..=120).map(|i| alloc::format!("{}", i)).collect();
    let source = alloc::format!("return {{{}}}", items.join(","));
    let proto = compiles(&source);
    let lists: Vec<(u8, u32)> = proto
        .code
        .iter()
        .filter_map(|op| match *op {
            Op::SetList { n, start, .. } => Some((n, start)),
            _ => None,
        })
        .collect();
    assert_eq!(lists, [(50, 0), (50, 50), (20, 100)]);
    assert_eq!(
        proto.code[0],
        Op::NewTable {
            a: 0,
            hash: 0,
            array: 120
        }
    );
    let proto = compiles("return {1, 2, x = 1, y = 2, [3] = 3, f()}");
    assert_eq!(
        proto.code[0],
        Op::NewTable {
            a: 0,
            hash: 3,
            array: 2
        }
    );
    assert!(proto
        .code
        .iter()
        .any(|op| matches!(op, Op::SetList { n: 0, start: 0, .. })));
}

#[test]
fn calls_methods_and_tail_calls() {
    assert_code("f()", &["GETTABUP R0 U0 K0", "CALL R0 1 1", "RETURN0"]);
    assert_code(
        "f 'x'",
        &["GETTABUP R0 U0 K0", "LOADK R1 K1", "CALL R0 2 1", "RETURN0"],
    );
    assert_code(
        "f {}",
        &[
            "GETTABUP R0 U0 K0",
            "NEWTABLE R1 0 0",
            "CALL R0 2 1",
            "RETURN0",
        ],
    );
    assert_code(
        "o:m(1)",
        &[
            "GETTABUP R0 U0 K0",
            "SELF R0 R0 K1",
            "LOADI R2 1",
            "CALL R0 3 1",
            "RETURN0",
        ],
    );
    assert_code(
        "f(g())",
        &[
            "GETTABUP R0 U0 K0",
            "GETTABUP R1 U0 K1",
            "CALL R1 1 0",
            "CALL R0 0 1",
            "RETURN0",
        ],
    );
    assert_code(
        "return f(1)",
        &[
            "GETTABUP R0 U0 K0",
            "LOADI R1 1",
            "TAILCALL R0 2",
            "RETURN R0 0",
            "RETURN0",
        ],
    );
    assert_code(
        "return (f(1))",
        &[
            "GETTABUP R0 U0 K0",
            "LOADI R1 1",
            "CALL R0 2 2",
            "RETURN1 R0",
            "RETURN0",
        ],
    );
    // No tail call inside the scope of a to-be-closed variable.
    let code = code_of("local x <close> = nil return f()");
    assert!(
        code.iter().all(|op| !op.starts_with("TAILCALL")),
        "{:?}",
        code
    );
    assert!(code.iter().any(|op| op == "TBC R0"), "{:?}", code);
}

#[test]
fn compile_time_constants_have_no_register() {
    assert_code(
        "local k <const> = 10 return k * 2",
        &["LOADI R0 20", "RETURN1 R0", "RETURN0"],
    );
    assert_code(
        "local s <const> = 'x' return s",
        &["LOADK R0 K0", "RETURN1 R0", "RETURN0"],
    );
    let proto = compiles("local k <const> = 10 local t <const> = {} return k, t");
    assert_eq!(proto.locals.len(), 1, "only t has a register");
    assert_eq!(&*proto.locals[0].name, b"t");
    let proto = compiles("local k <const> = 1.5 return function() return k end");
    assert!(proto.protos[0].upvalues.iter().all(|u| &*u.name != b"k"));
}

#[test]
fn blocks_close_captured_locals() {
    assert_code(
        "do local x = 1 f = function() return x end end",
        &[
            "LOADI R0 1",
            "CLOSURE R1 P0",
            "SETTABUP U0 K0 R1",
            "CLOSE R0",
            "RETURN0",
        ],
    );
    assert_code("do local x = 1 end", &["LOADI R0 1", "RETURN0"]);
    let code =
        code_of("while x do local y = 1 f = function() return y end if y then break end end");
    assert_eq!(
        code.iter().filter(|op| op.starts_with("CLOSE")).count(),
        2,
        "{:?}",
        code
    );
    let code = code_of("do local y f = function() return y end goto out end ::out::");
    assert!(code.iter().any(|op| op == "CLOSE R0"), "{:?}", code);
}

#[test]
fn numeric_and_generic_for_loops() {
    assert_code(
        "for i = 1, 10 do f(i) end",
        &[
            "LOADI R0 1",
            "LOADI R1 10",
            "LOADI R2 1",
            "FORPREP R0 4",
            "GETTABUP R4 U0 K0",
            "MOVE R5 R3",
            "CALL R4 2 1",
            "FORLOOP R0 -4",
            "RETURN0",
        ],
    );
    assert_code(
        "for k, v in pairs(t) do end",
        &[
            "GETTABUP R0 U0 K0",
            "GETTABUP R1 U0 K1",
            "CALL R0 2 5",
            "TFORPREP R0 0",
            "TFORCALL R0 2",
            "TFORLOOP R0 -2",
            "CLOSE R0",
            "RETURN0",
        ],
    );
}

#[test]
fn debug_information() {
    let proto = compiles("local a = 1\nlocal function f(x)\n  return x\nend\nlocal b = f(a)\n");
    let names: Vec<(&[u8], u8, u32, u32)> = proto
        .locals
        .iter()
        .map(|l| (&*l.name, l.reg, l.start_pc, l.end_pc))
        .collect();
    assert_eq!(
        names,
        [
            (&b"a"[..], 0, 1, 6),
            (&b"f"[..], 1, 2, 6),
            (&b"b"[..], 2, 5, 6)
        ]
    );
    let f = &proto.protos[0];
    assert_eq!(
        (f.line_defined, f.last_line_defined, f.num_params),
        (2, 4, 1)
    );
    assert_eq!(f.lines, [3, 4]);
    assert_eq!(proto.lines, [1, 4, 5, 5, 5, 5]);
    // As luac5.4 -l shows: a call has the line where its expression starts, an operator the
    // line of the operator, a global the line of the token that made it needed.
    let proto = compiles("f(\n1,\n2)\nx = a\n+\nb");
    assert_eq!(proto.lines, [1, 2, 3, 1, 5, 6, 5, 6, 6]);
}

#[test]
fn multiple_assignment_evaluates_then_assigns_right_to_left() {
    assert_code(
        "local a, b = 1, 2 a, b = b, a",
        &[
            "LOADI R0 1",
            "LOADI R1 2",
            "MOVE R2 R1",
            "MOVE R1 R0",
            "MOVE R0 R2",
            "RETURN0",
        ],
    );
    // `t[i], i = ...`: the table index saw the old i.
    assert_code(
        "local t, i = {}, 1 t[i], i = 2, 3",
        &[
            "NEWTABLE R0 0 0",
            "LOADI R1 1",
            "MOVE R2 R1",
            "LOADI R3 2",
            "LOADI R1 3",
            "SETTABLE R0 R2 R3",
            "RETURN0",
        ],
    );
}

#[test]
fn upvalues_are_found_through_every_enclosing_function() {
    let proto = compiles("local a local function f() return function() return a end end");
    let f = &proto.protos[0];
    let g = &f.protos[0];
    assert_eq!(
        (
            f.upvalues[0].in_stack,
            f.upvalues[0].index,
            &*f.upvalues[0].name
        ),
        (true, 0, &b"a"[..])
    );
    assert_eq!((g.upvalues[0].in_stack, g.upvalues[0].index), (false, 0));
}

#[test]
fn jumps_to_jumps_are_threaded() {
    let proto = compiles("while a do if b then c() else d() end end");
    for (pc, op) in proto.code.iter().enumerate() {
        if let Op::Jmp { off } = op {
            let target = (pc as i64 + 1 + i64::from(*off)) as usize;
            assert!(
                !matches!(proto.code[target], Op::Jmp { .. }),
                "jump at {} lands on a jump",
                pc
            );
        }
    }
}
