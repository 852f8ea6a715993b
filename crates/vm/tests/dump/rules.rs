//! One hostile prototype per verifier rule (numbered as in `verify.rs`), each refused for
//! the reason the rule gives; and the compiler-shaped programs next to them pass.

use lua_persist_vm::bytecode::Op;
use lua_persist_vm::dump::{dump, undump, verify, MAX_DEPTH};
use lua_persist_vm::proto::{Constant, FunctionProto, UpvalueDesc};

use super::programs::{self, function, s};

/// `p` fails verification with a message containing `why`, directly and through a chunk.
#[track_caller]
fn refused(p: &FunctionProto, why: &str) {
    let e = verify(p).expect_err("verified");
    assert!(e.contains(why), "{e:?} does not say {why:?}");
    let e = undump(&dump(p, false), b"=hostile").expect_err("loaded");
    assert!(e.starts_with("hostile: bad binary format ("), "{e}");
    assert!(e.contains(why), "{e:?} does not say {why:?}");
}

/// A main function with this code.
fn main_with(max_stack: u8, code: Vec<Op>) -> FunctionProto {
    function(
        0,
        max_stack,
        code,
        vec![s("key"), Constant::Float(0.5), Constant::Nil],
    )
}

fn captured(index: u8) -> UpvalueDesc {
    UpvalueDesc {
        in_stack: true,
        index,
        name: Default::default(),
    }
}

/// A closure of a function that captures `regs` of its parent.
fn child_capturing(regs: &[u8]) -> FunctionProto {
    let mut f = function(7, 2, vec![Op::Return0], vec![]);
    f.upvalues = regs.iter().map(|&r| captured(r)).collect();
    f
}

#[test]
fn rule_1_nesting_is_bounded() {
    let mut p = main_with(1, vec![Op::Return0]);
    for _ in 0..=MAX_DEPTH {
        let mut parent = main_with(1, vec![Op::Closure { a: 0, p: 0 }, Op::Return0]);
        parent.protos.push(p);
        p = parent;
    }
    refused(&p, "nested too deeply");
    // One level less is fine (and neither direction recurses without bound).
    let inner = p.protos.pop().unwrap();
    assert!(verify(&inner).is_ok());
    assert!(undump(&dump(&inner, false), b"=t").is_ok());
}

#[test]
fn rule_1_shape() {
    let mut p = main_with(2, vec![Op::Return0]);
    p.num_params = 3;
    refused(&p, "3 parameters but 2 registers");

    let mut p = main_with(2, vec![Op::Return0]);
    p.upvalues = vec![captured(0); 256];
    refused(&p, "256 upvalues");

    let mut p = main_with(2, vec![Op::Return0]);
    p.lines.push(1);
    refused(&p, "2 lines for 1 instructions");

    let mut p = programs::numeric_for();
    p.locals[0].reg = 6;
    refused(&p, "local variable 0");
    let mut p = programs::numeric_for();
    p.locals[1].end_pc = 9;
    refused(&p, "local variable 1");

    refused(&main_with(2, vec![]), "no code");
}

#[test]
fn rule_2_closures_take_existing_upvalues() {
    let mut p = main_with(2, vec![Op::Closure { a: 0, p: 0 }, Op::Return0]);
    p.protos.push(child_capturing(&[2]));
    refused(&p, "takes upvalue 0 from register 2 of 2");

    let mut p = main_with(2, vec![Op::Closure { a: 0, p: 0 }, Op::Return0]);
    let mut child = child_capturing(&[]);
    child.upvalues.push(UpvalueDesc {
        in_stack: false,
        index: 1,
        name: Default::default(),
    });
    p.protos.push(child);
    refused(&p, "takes upvalue 0 from upvalue 1 of 1");
}

#[test]
fn rule_3_operands() {
    let r = |op: Op| main_with(4, vec![op, Op::Return0]);
    refused(&r(Op::Move { a: 4, b: 0 }), "register 4 of 4");
    refused(&r(Op::LoadNil { a: 2, n: 2 }), "registers 2..4 of 4");
    refused(&r(Op::SelfK { a: 3, b: 0, k: 0 }), "registers 3..4 of 4");
    refused(&r(Op::LoadK { a: 0, k: 3 }), "constant 3 of 3");
    refused(&r(Op::GetField { a: 0, b: 0, k: 1 }), "not a string");
    refused(&r(Op::GetTabUp { a: 0, b: 0, k: 2 }), "not a string");
    refused(
        &r(Op::SetField {
            a: 0,
            c: 0,
            kc: true,
            k: 1,
        }),
        "not a string",
    );
    refused(&r(Op::AddK { a: 0, b: 0, k: 0 }), "not a number");
    refused(&r(Op::BAndK { a: 0, b: 0, k: 1 }), "not an integer");
    refused(&r(Op::GetUpval { a: 0, b: 1 }), "upvalue 1 of 1");
    refused(
        &r(Op::SetTabUp {
            a: 1,
            c: 0,
            kc: false,
            k: 0,
        }),
        "upvalue 1 of 1",
    );
    refused(&r(Op::Closure { a: 0, p: 0 }), "function 0 of 0");
    refused(&r(Op::Concat { a: 0, n: 1 }), "fewer than two values");
    refused(&r(Op::Concat { a: 2, n: 3 }), "registers 2..4 of 4");
    refused(&r(Op::Call { a: 1, b: 4, c: 1 }), "registers 1..4 of 4");
    refused(&r(Op::Call { a: 1, b: 1, c: 5 }), "registers 1..4 of 4");
    refused(&r(Op::TForCall { a: 0, c: 0 }), "no loop variables");
    refused(&r(Op::Return1 { a: 4 }), "register 4 of 4");
    refused(
        &r(Op::SetList {
            a: 2,
            n: 2,
            start: 0,
        }),
        "registers 2..4 of 4",
    );
    let mut p = r(Op::VarArg { a: 0, c: 2 });
    p.is_vararg = false;
    refused(&p, "varargs in a function without them");
    // A table sized beyond what the function can store would be a huge allocation.
    refused(
        &r(Op::NewTable {
            a: 0,
            hash: 0,
            array: u32::MAX,
        }),
        "array size 4294967295",
    );
    // `Return` and `Close` may name the register just past the frame.
    assert!(verify(&r(Op::Close { a: 4 })).is_ok());
    assert!(verify(&main_with(4, vec![Op::Return { a: 4, b: 1 }])).is_ok());
}

#[test]
fn rule_4_control_stays_in_the_code() {
    refused(
        &main_with(2, vec![Op::LoadTrue { a: 0 }]),
        "runs past the end",
    );
    refused(
        &main_with(2, vec![Op::Jmp { off: 1 }, Op::Return0]),
        "jumps to 2, outside the code",
    );
    refused(
        &main_with(2, vec![Op::Jmp { off: -2 }, Op::Return0]),
        "jumps to -1, outside the code",
    );
    refused(
        &main_with(
            2,
            vec![Op::Return0, Op::LoadFalseSkip { a: 0 }, Op::Return0],
        ),
        "jumps to 3, outside the code",
    );
    let test = Op::Test {
        a: 0,
        k: true,
        off: 0,
    };
    refused(&main_with(2, vec![Op::Return0, test]), "runs past the end");
}

#[test]
fn rule_5_the_stack_top_comes_from_the_instruction_before() {
    let call_all = Op::Call { a: 0, b: 0, c: 1 };
    refused(
        &main_with(4, vec![Op::LoadNil { a: 0, n: 3 }, call_all, Op::Return0]),
        "uses the stack top",
    );
    refused(
        &main_with(4, vec![call_all, Op::Return0]),
        "uses the stack top",
    );
    // The top must lie above the called function.
    refused(
        &main_with(4, vec![Op::VarArg { a: 0, c: 0 }, call_all, Op::Return0]),
        "uses the stack top",
    );
    // Nothing may jump to the user of the top, skipping the instruction that sets it.
    refused(
        &main_with(
            4,
            vec![
                Op::Jmp { off: 1 },
                Op::VarArg { a: 1, c: 0 },
                call_all,
                Op::Return0,
            ],
        ),
        "uses the stack top but is a jump target",
    );
    refused(
        &main_with(
            4,
            vec![
                Op::LoadFalseSkip { a: 0 },
                Op::VarArg { a: 1, c: 0 },
                call_all,
                Op::Return0,
            ],
        ),
        "uses the stack top but is a jump target",
    );
    refused(
        &main_with(
            4,
            vec![
                Op::VarArg { a: 1, c: 0 },
                Op::SetList {
                    a: 1,
                    n: 0,
                    start: 0,
                },
                Op::Return0,
            ],
        ),
        "uses the stack top",
    );
    refused(
        &main_with(4, vec![Op::TailCall { a: 0, b: 1 }, Op::Return0]),
        "not followed by a Return of its results",
    );
    refused(
        &main_with(
            4,
            vec![Op::TailCall { a: 1, b: 1 }, Op::Return { a: 0, b: 0 }],
        ),
        "not followed by a Return of its results",
    );
    // The compiler's shapes pass.
    for code in [
        vec![Op::VarArg { a: 1, c: 0 }, call_all, Op::Return0],
        vec![Op::Call { a: 0, b: 1, c: 0 }, Op::Return { a: 0, b: 0 }],
        vec![Op::TailCall { a: 0, b: 1 }, Op::Return { a: 0, b: 0 }],
    ] {
        assert!(verify(&main_with(4, code)).is_ok());
    }
}

#[test]
fn rule_6_loops_come_in_their_shapes() {
    let numeric = programs::numeric_for();
    let with = |pc: usize, op: Op| {
        let mut p = numeric.clone();
        p.code[pc] = op;
        p
    };
    refused(
        &with(4, Op::ForPrep { a: 1, off: 1 }),
        "does not jump past a ForLoop",
    );
    refused(
        &with(4, Op::ForPrep { a: 0, off: 2 }),
        "does not jump past a ForLoop",
    );
    // A preparation that jumps back to itself would spin without spending fuel.
    refused(
        &with(4, Op::ForPrep { a: 1, off: -1 }),
        "does not jump past a ForLoop",
    );
    let stray = main_with(
        5,
        vec![
            Op::LoadI { a: 0, i: 0 },
            Op::ForLoop { a: 0, off: -1 },
            Op::Return0,
        ],
    );
    refused(&stray, "does not jump back after its ForPrep");

    let generic = programs::generic_for_and_closure();
    let with = |pc: usize, op: Op| {
        let mut p = generic.clone();
        p.code[pc] = op;
        p
    };
    refused(
        &with(10, Op::TForPrep { a: 2, off: -1 }),
        "does not jump forward",
    );
    refused(
        &with(10, Op::TForPrep { a: 2, off: 0 }),
        "does not jump forward",
    );
    refused(&with(13, Op::Jmp { off: -3 }), "does not jump forward");
    refused(&with(12, Op::Jmp { off: 0 }), "does not jump forward");
    let call = Op::TForCall { a: 0, c: 1 };
    refused(
        &main_with(9, vec![call, Op::Return0]),
        "not followed by its TForLoop",
    );
    let stray = main_with(9, vec![call, Op::TForLoop { a: 0, off: -2 }, Op::Return0]);
    refused(&stray, "does not jump back after its TForPrep");
}

#[test]
fn rule_7_loop_bodies_leave_the_loop_state_alone() {
    let mut numeric = programs::numeric_for();
    numeric.constants.push(s("not a count"));
    let with = |pc: usize, op: Op| {
        let mut p = numeric.clone();
        p.code[pc] = op;
        p
    };
    // `ForLoop` would find a string where it keeps its count.
    refused(&with(5, Op::LoadK { a: 2, k: 0 }), "overwrites the state");
    refused(
        &with(5, Op::Call { a: 3, b: 1, c: 1 }),
        "overwrites the state",
    );
    refused(&with(5, Op::LoadNil { a: 0, n: 1 }), "overwrites the state");
    // The control variable is the body's to change.
    assert!(verify(&with(5, Op::LoadK { a: 4, k: 0 })).is_ok());

    // Nor may a closure in the body reach it.
    let mut p = with(5, Op::Closure { a: 5, p: 0 });
    p.protos.push(child_capturing(&[3]));
    refused(&p, "captures the state");
    let mut p = with(5, Op::Closure { a: 5, p: 0 });
    p.protos.push(child_capturing(&[4]));
    assert!(verify(&p).is_ok());

    // Nothing enters a body but its ForPrep.
    let mut p = numeric.clone();
    p.code.insert(0, Op::Jmp { off: 5 });
    p.lines.insert(0, 1);
    p.locals.clear();
    refused(&p, "enters the numeric for loop at 5 from outside");

    // Loops nest; they do not cross.
    let crossing = main_with(
        8,
        vec![
            Op::ForPrep { a: 0, off: 2 },
            Op::ForPrep { a: 4, off: 2 },
            Op::ForLoop { a: 0, off: -2 },
            Op::ForLoop { a: 4, off: -2 },
            Op::Return0,
        ],
    );
    refused(&crossing, "overlaps the numeric for loop");
}

#[test]
fn rule_8_calls_see_no_open_registers_above_them() {
    let closure_then = |call: Op, close: Option<u8>| {
        let mut code = vec![Op::Closure { a: 1, p: 0 }];
        code.extend(close.map(|a| Op::Close { a }));
        code.extend([call, Op::Return0]);
        let mut p = main_with(6, code);
        p.protos.push(child_capturing(&[2]));
        p
    };
    let call = Op::Call { a: 2, b: 1, c: 1 };
    refused(
        &closure_then(call, None),
        "register 2 may still have an open upvalue",
    );
    assert!(verify(&closure_then(call, Some(2))).is_ok());
    assert!(verify(&closure_then(Op::Call { a: 3, b: 1, c: 1 }, None)).is_ok());
    let for_prep = main_with(
        6,
        vec![
            Op::Closure { a: 1, p: 0 },
            Op::ForPrep { a: 2, off: 1 },
            Op::ForLoop { a: 2, off: -1 },
            Op::Return0,
        ],
    );
    let mut p = for_prep.clone();
    p.protos.push(child_capturing(&[2]));
    refused(&p, "register 2 may still have an open upvalue");

    // What goes wrong otherwise: `pcall` runs the closure on a stack cut short above its
    // argument, where the upvalue's register no longer exists.
    let mut p = function(
        0,
        8,
        vec![
            Op::GetTabUp { a: 0, b: 0, k: 0 },
            Op::Closure { a: 1, p: 0 },
            Op::Call { a: 0, b: 2, c: 1 },
            Op::Return0,
        ],
        vec![s("pcall")],
    );
    let mut reader = function(3, 2, vec![Op::GetUpval { a: 0, b: 0 }, Op::Return0], vec![]);
    reader.upvalues = vec![captured(5)];
    p.protos.push(reader);
    refused(&p, "register 5 may still have an open upvalue");

    // An upvalue opened on one path only still counts.
    let mut p = main_with(
        6,
        vec![
            Op::Test {
                a: 0,
                k: true,
                off: 1,
            },
            Op::Closure { a: 1, p: 0 },
            Op::Call { a: 2, b: 1, c: 1 },
            Op::Return0,
        ],
    );
    p.protos.push(child_capturing(&[4]));
    refused(&p, "register 4 may still have an open upvalue");

    // And one opened late in a loop reaches its start again.
    let mut p = main_with(
        6,
        vec![
            Op::Call { a: 2, b: 1, c: 1 },
            Op::Closure { a: 1, p: 0 },
            Op::Jmp { off: -3 },
        ],
    );
    p.protos.push(child_capturing(&[3]));
    refused(&p, "register 3 may still have an open upvalue");

    let tbc_then = |call: Op| main_with(6, vec![Op::Tbc { a: 2 }, call, Op::Return { a: 2, b: 0 }]);
    refused(
        &tbc_then(Op::Call { a: 2, b: 1, c: 0 }),
        "register 2 may still be marked to be closed",
    );
    assert!(verify(&tbc_then(Op::Call { a: 3, b: 1, c: 0 })).is_ok());
    // What goes wrong otherwise: the closure `pcall` runs returns, closes the variable from
    // its own base up and finds it beyond the (cut short) stack.
    let table = |a| Op::NewTable {
        a,
        hash: 0,
        array: 0,
    };
    let mut p = function(
        0,
        8,
        vec![
            Op::GetTabUp { a: 0, b: 0, k: 2 },
            table(1),
            table(2),
            Op::Closure { a: 3, p: 0 },
            Op::SetField {
                a: 2,
                c: 3,
                kc: false,
                k: 1,
            },
            Op::Call { a: 0, b: 3, c: 2 },
            Op::Move { a: 7, b: 0 },
            Op::Tbc { a: 7 },
            Op::GetTabUp { a: 0, b: 0, k: 0 },
            Op::Closure { a: 1, p: 0 },
            Op::Call { a: 0, b: 2, c: 1 },
            Op::Return0,
        ],
        vec![s("pcall"), s("__close"), s("setmetatable")],
    );
    p.protos.push(function(3, 2, vec![Op::Return0], vec![]));
    refused(&p, "register 7 may still be marked to be closed");

    // A tail call would leave the variable to a frame that no longer exists.
    refused(
        &main_with(
            6,
            vec![
                Op::Tbc { a: 0 },
                Op::TailCall { a: 3, b: 1 },
                Op::Return { a: 3, b: 0 },
            ],
        ),
        "register 0 may still be marked to be closed",
    );
    // The generic for's closing value is marked, and closed by the Close after the loop.
    let mut p = programs::generic_for_and_closure();
    p.code[14] = Op::Move { a: 2, b: 2 };
    refused(&p, "register 5 may still be marked to be closed");
}
