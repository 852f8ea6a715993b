//! Hand-built prototypes in the compiler's shapes, each with the Lua it stands for: the
//! seeds of the round-trip tests and the fuzzer until compiled corpora are available.

use std::rc::Rc;

use lua_persist_vm::bytecode::Op;
use lua_persist_vm::proto::{Constant, FunctionProto, LocalDesc, UpvalueDesc};

pub(super) fn s(text: &str) -> Constant {
    Constant::String(text.as_bytes().into())
}

fn upvalue(name: &str, in_stack: bool, index: u8) -> UpvalueDesc {
    UpvalueDesc {
        in_stack,
        index,
        name: name.as_bytes().into(),
    }
}

fn local(name: &str, reg: u8, start_pc: u32, end_pc: u32) -> LocalDesc {
    LocalDesc {
        name: name.as_bytes().into(),
        reg,
        start_pc,
        end_pc,
    }
}

/// A function with one line per instruction from `line_defined + 1` on.
pub(super) fn function(
    line_defined: u32,
    max_stack: u8,
    code: Vec<Op>,
    constants: Vec<Constant>,
) -> FunctionProto {
    let first = line_defined + 1;
    FunctionProto {
        source: Rc::from(&b"@programs.lua"[..]),
        line_defined,
        last_line_defined: if line_defined == 0 {
            0
        } else {
            first + code.len() as u32
        },
        num_params: 0,
        is_vararg: line_defined == 0,
        max_stack,
        lines: (first..first + code.len() as u32).collect(),
        code,
        constants,
        protos: Vec::new(),
        upvalues: if line_defined == 0 {
            vec![upvalue("_ENV", true, 0)]
        } else {
            Vec::new()
        },
        locals: Vec::new(),
    }
}

/// ```lua
/// local s = 0
/// for i = 1, ... do s = s + i end
/// return s
/// ```
pub(super) fn numeric_for() -> FunctionProto {
    let mut p = function(
        0,
        6,
        vec![
            Op::LoadI { a: 0, i: 0 },
            Op::LoadI { a: 1, i: 1 },
            Op::VarArg { a: 2, c: 2 },
            Op::LoadI { a: 3, i: 1 },
            Op::ForPrep { a: 1, off: 2 },
            Op::Add { a: 0, b: 0, c: 4 },
            Op::ForLoop { a: 1, off: -2 },
            Op::Return1 { a: 0 },
        ],
        vec![],
    );
    p.locals = vec![local("s", 0, 1, 8), local("i", 4, 5, 6)];
    p
}

/// ```lua
/// local t = {10, 20, 30}
/// local n = 0
/// for k, v in pairs(t) do n = n + v end
/// local f = function() return n end
/// return f() .. "!"
/// ```
pub(super) fn generic_for_and_closure() -> FunctionProto {
    let mut p = function(
        0,
        9,
        vec![
            Op::NewTable {
                a: 0,
                hash: 0,
                array: 3,
            },
            Op::LoadI { a: 1, i: 10 },
            Op::LoadI { a: 2, i: 20 },
            Op::LoadI { a: 3, i: 30 },
            Op::SetList {
                a: 0,
                n: 3,
                start: 0,
            },
            Op::LoadI { a: 1, i: 0 },
            Op::GetTabUp { a: 2, b: 0, k: 0 },
            Op::Move { a: 3, b: 0 },
            Op::Call { a: 2, b: 2, c: 4 },
            Op::LoadNil { a: 5, n: 0 },
            Op::TForPrep { a: 2, off: 1 },
            Op::Add { a: 1, b: 1, c: 7 },
            Op::TForCall { a: 2, c: 2 },
            Op::TForLoop { a: 2, off: -3 },
            Op::Close { a: 2 },
            Op::Closure { a: 2, p: 0 },
            Op::Move { a: 3, b: 2 },
            Op::Call { a: 3, b: 1, c: 2 },
            Op::LoadK { a: 4, k: 1 },
            Op::Concat { a: 3, n: 2 },
            Op::Return1 { a: 3 },
        ],
        vec![s("pairs"), s("!")],
    );
    let mut f = function(
        20,
        2,
        vec![Op::GetUpval { a: 0, b: 0 }, Op::Return1 { a: 0 }],
        vec![],
    );
    f.upvalues = vec![upvalue("n", true, 1)];
    p.protos = vec![f];
    p.locals = vec![
        local("t", 0, 5, 21),
        local("n", 1, 6, 21),
        local("(for state)", 2, 10, 14),
        local("(for state)", 3, 10, 14),
        local("(for state)", 4, 10, 14),
        local("(for state)", 5, 10, 14),
        local("k", 6, 11, 12),
        local("v", 7, 11, 12),
        local("f", 2, 16, 21),
    ];
    p
}

/// ```lua
/// local function f(...) return select('#', ...) end
/// local x <close> = nil
/// return f(...)
/// ```
pub(super) fn varargs_and_tbc() -> FunctionProto {
    let mut p = function(
        0,
        4,
        vec![
            Op::Closure { a: 0, p: 0 },
            Op::LoadNil { a: 1, n: 0 },
            Op::Tbc { a: 1 },
            Op::Move { a: 2, b: 0 },
            Op::VarArg { a: 3, c: 0 },
            Op::Call { a: 2, b: 0, c: 0 },
            Op::Return { a: 2, b: 0 },
        ],
        vec![],
    );
    let mut f = function(
        1,
        3,
        vec![
            Op::GetTabUp { a: 0, b: 0, k: 0 },
            Op::LoadK { a: 1, k: 1 },
            Op::VarArg { a: 2, c: 0 },
            Op::TailCall { a: 0, b: 0 },
            Op::Return { a: 0, b: 0 },
        ],
        vec![s("select"), s("#")],
    );
    f.is_vararg = true;
    f.upvalues = vec![upvalue("_ENV", false, 0)];
    p.protos = vec![f];
    p.locals = vec![local("f", 0, 1, 7), local("x", 1, 3, 7)];
    p
}

/// ```lua
/// local a = 3.5
/// local b = a * 2
/// local t = {}
/// t.x = b
/// t[1] = a < b
/// local c = t.x or 7
/// while c > 0 do c = c - 2 end
/// return t[1], c // 1, #t
/// ```
pub(super) fn branches_and_tables() -> FunctionProto {
    let mut p = function(
        0,
        9,
        vec![
            Op::LoadK { a: 0, k: 0 },
            Op::MulK { a: 1, b: 0, k: 1 },
            Op::NewTable {
                a: 2,
                hash: 1,
                array: 0,
            },
            Op::SetField {
                a: 2,
                c: 1,
                kc: false,
                k: 2,
            },
            Op::Lt {
                a: 0,
                b: 1,
                k: true,
                off: 1,
            },
            Op::LoadFalseSkip { a: 3 },
            Op::LoadTrue { a: 3 },
            Op::SetInt {
                a: 2,
                b: 1,
                c: 3,
                kc: false,
            },
            Op::GetField { a: 4, b: 2, k: 2 },
            Op::TestSet {
                a: 5,
                b: 4,
                k: true,
                off: 1,
            },
            Op::LoadI { a: 5, i: 7 },
            Op::GtI {
                a: 5,
                i: 0,
                k: false,
                off: 2,
            },
            Op::AddI { a: 5, b: 5, i: -2 },
            Op::Jmp { off: -3 },
            Op::GetInt { a: 6, b: 2, c: 1 },
            Op::IDivK { a: 7, b: 5, k: 3 },
            Op::Len { a: 8, b: 2 },
            Op::Return { a: 6, b: 4 },
        ],
        vec![
            Constant::Float(3.5),
            Constant::Integer(2),
            s("x"),
            Constant::Integer(1),
        ],
    );
    p.locals = vec![
        local("a", 0, 1, 18),
        local("b", 1, 2, 18),
        local("t", 2, 3, 18),
        local("c", 5, 11, 18),
    ];
    p
}

/// ```lua
/// local up = 5
/// g = function(x)            -- nested twice: the inner one reaches `up` through `g`
///   return function() return x + up end
/// end
/// local r = g(-3)() ~ 0xff   -- 253
/// if r == 253 and r ~= 1 then r = not nil end
/// return r, "\0\xff", -1e300, math
/// ```
pub(super) fn nested_closures_and_globals() -> FunctionProto {
    let mut p = function(
        0,
        5,
        vec![
            Op::LoadI { a: 0, i: 5 },
            Op::Closure { a: 1, p: 0 },
            Op::SetTabUp {
                a: 0,
                c: 1,
                kc: false,
                k: 0,
            },
            Op::GetTabUp { a: 1, b: 0, k: 0 },
            Op::LoadI { a: 2, i: -3 },
            Op::Call { a: 1, b: 2, c: 2 },
            Op::Call { a: 1, b: 1, c: 2 },
            Op::BXorK { a: 1, b: 1, k: 1 },
            Op::EqK {
                a: 1,
                c: 2,
                k: false,
                off: 3,
            },
            Op::EqI {
                a: 1,
                i: 1,
                k: true,
                off: 2,
            },
            Op::LoadNil { a: 2, n: 0 },
            Op::Not { a: 1, b: 2 },
            Op::LoadK { a: 2, k: 3 },
            Op::LoadK { a: 3, k: 4 },
            Op::GetTabUp { a: 4, b: 0, k: 5 },
            Op::Return { a: 1, b: 5 },
        ],
        vec![
            s("g"),
            Constant::Integer(0xff),
            Constant::Integer(253),
            Constant::String(Vec::from(&b"\0\xff"[..]).into()),
            Constant::Float(-1e300),
            s("math"),
        ],
    );
    let mut g = function(
        2,
        2,
        vec![Op::Closure { a: 1, p: 0 }, Op::Return1 { a: 1 }],
        vec![],
    );
    g.num_params = 1;
    g.upvalues = vec![upvalue("up", true, 0)];
    g.locals = vec![local("x", 0, 0, 2)];
    let mut inner = function(
        3,
        2,
        vec![
            Op::GetUpval { a: 0, b: 0 },
            Op::GetUpval { a: 1, b: 1 },
            Op::Add { a: 0, b: 0, c: 1 },
            Op::Return1 { a: 0 },
        ],
        vec![],
    );
    inner.upvalues = vec![upvalue("x", true, 0), upvalue("up", false, 0)];
    g.protos = vec![inner];
    p.protos = vec![g];
    p.locals = vec![local("up", 0, 1, 16), local("r", 1, 8, 16)];
    p
}

/// Every hand-built program.
pub(super) fn all() -> Vec<FunctionProto> {
    vec![
        numeric_for(),
        generic_for_and_closure(),
        varargs_and_tbc(),
        branches_and_tables(),
        nested_closures_and_globals(),
    ]
}
