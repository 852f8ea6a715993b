//! `proto::dump` / `proto::undump`: round trips over real Lua, stability, stripping, one
//! hostile case per validation rule, and a deterministic mutation loop that runs whatever
//! `undump` accepts and fails on any panic.

use std::panic::{catch_unwind, AssertUnwindSafe};

use lua_persist_engine::proto::{self, UndumpError};
use piccolo::compiler::{CompiledPrototype, FunctionRef, LineNumber};
use piccolo::opcode::{OpCode, Operation, RCIndex};
use piccolo::types::{
    ConstantIndex16, ConstantIndex8, Opt254, PrototypeIndex, RegisterIndex, UpValueDescriptor,
    UpValueIndex, VarCount,
};
use piccolo::{
    Closure, Constant, Context, Executor, Fuel, FunctionPrototype, Lua, Value, Variadic,
};

const CORPUS: &[&str] = &[
    "return 1, 2.5, 'three', true, nil, false",
    "local a, b = 10, 3 return a + b, a - b, a * b, a / b, a // b, a % b, a ^ b, -a",
    "local a, b = 0xF0, 0x0F return a & b, a | b, a ~ b, ~a, a << 2, a >> 2",
    "local x = 5 if x > 3 then return 'big' elseif x > 1 then return 'mid' else return 'small' end",
    "local s = 0 for i = 1, 100 do s = s + i end return s",
    "local s = 0 for i = 10, 1, -3 do s = s * 10 + i end return s",
    "local s = 0.0 for x = 0, 1, 0.25 do s = s + x end return s",
    "local t = {} for i = 1, 10 do t[i] = i * i end local s = 0 for _, v in ipairs(t) do s = s + v end return s, #t",
    "local t = {a = 1, b = 2, c = 3} local n = 0 for k, v in pairs(t) do n = n + v end return n",
    "local function f(...) return select('#', ...), ... end return f(1, nil, 3)",
    "local function f(...) local t = {...} return #t, t[1], t[#t] end return f(4, 5, 6, 7)",
    "local function f(a, b, ...) return a, b, select(2, ...) end return f(1, 2, 3, 4, 5)",
    "local function counter() local n = 0 return function() n = n + 1 return n end end \
     local c = counter() c() c() return c()",
    "local fs = {} for i = 1, 5 do fs[i] = function() return i end end return fs[1]() + fs[5]()",
    "local fs = {} for _, v in ipairs({3, 4}) do fs[#fs + 1] = function() return v end end \
     return fs[1](), fs[2]()",
    "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end return fib(15)",
    "local function loop(n, acc) if n == 0 then return acc end return loop(n - 1, acc + n) end \
     return loop(10000, 0)",
    "local function mr() return 1, 2, 3 end local a, b, c, d = mr() return d, c, b, a, mr()",
    "local function mr() return 1, 2, 3 end local t = {mr(), mr()} return #t",
    "local t = {} t.x = {y = {z = 42}} return t.x.y.z, t['x']['y'].z",
    "local s = 'hello' return #s, s .. ' world', string.upper(s), string.sub(s, 2, 3), string.len(s)",
    "local a = 'x' .. 1 .. 2.5 .. 'y' return a",
    "local i = 0 ::top:: i = i + 1 if i < 10 then goto top end return i",
    "local r = {} for i = 1, 3 do for j = 1, 3 do if j == 2 then goto continue end \
     r[#r + 1] = i * 10 + j ::continue:: end end return table.unpack(r)",
    "local n = 0 while true do n = n + 1 if n >= 7 then break end end return n",
    "local n = 0 repeat local m = n n = n + 2 until m > 5 return n",
    "local mt = {__index = function(t, k) return k .. '!' end} \
     local a = setmetatable({v = 1}, mt) return a.v, a.foo",
    "local mt = {__eq = function() return true end, __lt = function() return true end, \
     __len = function() return 99 end, __call = function(self, x) return x * 2 end} \
     local a, b = setmetatable({}, mt), setmetatable({}, mt) return a == b, #a, a(21)",
    "local obj = {n = 5} function obj:get(k) return self.n + k end return obj:get(1)",
    "local ok, err = pcall(function() error('boom') end) return ok, err",
    "local ok, v = pcall(function(x) return x * 2 end, 21) return ok, v",
    "local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end) \
     local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10) return x, y, coroutine.status(co)",
    "local co = coroutine.create(function(n) for i = 1, n do coroutine.yield(i) end end) \
     local s, ok, v = 0, coroutine.resume(co, 5) while v do s = s + v ok, v = coroutine.resume(co) end return s",
    "local x = 1 do local x = 2 x = x + 1 end return x",
    "local a, b = 1, 2 a, b = b, a return a, b",
    "local t = table.pack(1, 2, nil, 4) return t.n, t[4]",
    "local a = nil local b = a or 'default' local c = a and 1 return b, c, not a, 1 and 2, false or nil",
    "return math.floor(3.7), math.max(1, 9, 3), math.huge > 1, math.tointeger(4.0), 7 // 0.0",
    "local function outer() local x = 1 local function mid() local function inner() x = x + 1 return x end \
     return inner() end return mid() + mid() end return outer()",
    "local t = setmetatable({}, {__newindex = function(t, k, v) rawset(t, k, v * 2) end}) t.a = 4 return t.a",
    "local s = '' for i = 1, 5 do s = s .. i end return s, tostring(12), tostring(nil), type({})",
    "x_global = 3 local function f() return x_global * 2 end return f()",
    "local t = {1, 2, 3, n = 3, [10] = 'ten', ['k' .. 1] = true} return t[10], t.k1, t.n, #t",
    "local function v(...) return ... end return v(), v(1), v(1, 2)",
    "local function tailv(...) return select('#', ...) end local function f(...) return tailv(...) end return f(1, 2, 3)",
    "",
    "local a = {} local b = a return a == b, a ~= {}, 1 == 1.0, '1' == 1, 2 < 3, 'a' < 'b', 3 <= 3, 4 >= 5",
];

/// A printable summary of one result value (tables and functions by type only).
fn show(v: Value<'_>) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => format!("i{i}"),
        Value::Number(n) => format!("f{n:?}"),
        Value::String(s) => format!("{:?}", String::from_utf8_lossy(s.as_bytes())),
        other => other.type_name().into(),
    }
}

type Make<'a> = dyn for<'gc> Fn(Context<'gc>) -> Result<Closure<'gc>, String> + 'a;

/// Runs a closure built by `make` for at most `steps` executor steps. `Ok(None)` means it
/// was still running (or outgrew the memory cap) when stopped.
fn run(lua: &mut Lua, make: &Make<'_>, steps: usize) -> Result<Option<Vec<String>>, String> {
    let ex = lua.enter(|ctx| make(ctx).map(|c| ctx.stash(Executor::start(ctx, c.into(), ()))))?;
    for _ in 0..steps {
        if lua.enter(|ctx| ctx.fetch(&ex).step(ctx, &mut Fuel::with(2048))) {
            return lua.enter(|ctx| {
                match ctx
                    .fetch(&ex)
                    .take_result::<Variadic<Vec<Value>>>(ctx)
                    .unwrap()
                {
                    Ok(vals) => Ok(Some(vals.iter().map(|v| show(*v)).collect())),
                    Err(e) => Err(e.to_string()),
                }
            });
        }
        if lua.total_memory() > 64 << 20 {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Compiles as the engine does (`stdlib::compile` widens tail-calling frames, and `undump`
/// applies the same fix, so round trips compare like with like).
fn compile<'gc>(ctx: Context<'gc>, src: &str) -> FunctionPrototype<'gc> {
    stdlib::compile_prototype(ctx, b"corpus", src.as_bytes()).unwrap()
}

fn dump_src(src: &str, strip: bool) -> Vec<u8> {
    Lua::core().enter(|ctx| proto::dump(&compile(ctx, src), strip))
}

/// Builds the main closure as the engine's binary `load` does (`_ENV`, then the method-call
/// helper when the chunk has one).
fn undump_closure<'gc>(ctx: Context<'gc>, bytes: &[u8]) -> Result<Closure<'gc>, String> {
    let p = proto::undump_detached(ctx, bytes).map_err(|e| e.to_string())?;
    Ok(stdlib::main_closure(ctx, p, ctx.globals()))
}

#[test]
fn corpus_round_trips_and_runs_the_same() {
    for (n, src) in CORPUS.iter().enumerate() {
        let expected = run(
            &mut Lua::core(),
            &|ctx| Ok(stdlib::main_closure(ctx, compile(ctx, src), ctx.globals())),
            10_000,
        );
        for strip in [false, true] {
            let bytes = dump_src(src, strip);
            assert!(proto::is_binary_chunk(&bytes));
            let got = run(&mut Lua::core(), &|ctx| undump_closure(ctx, &bytes), 10_000);
            assert_eq!(got, expected, "program {n} (strip {strip}): {src}");
            assert!(
                matches!(got, Ok(Some(_))),
                "program {n} did not finish: {got:?}"
            );
        }
    }
}

#[test]
fn dump_is_stable() {
    for src in CORPUS {
        for strip in [false, true] {
            let first = dump_src(src, strip);
            let second = Lua::core()
                .enter(|ctx| proto::dump(&proto::undump_detached(ctx, &first).unwrap(), strip));
            assert_eq!(first, second, "{src}");
        }
    }
}

#[test]
fn strip_drops_lines_but_errors_still_work() {
    let src = "local t = nil\n\nreturn t.x";
    let full = dump_src(src, false);
    let stripped = dump_src(src, true);
    assert!(stripped.len() < full.len());
    let mut lua = Lua::core();
    let err = run(&mut lua, &|ctx| undump_closure(ctx, &stripped), 100).unwrap_err();
    assert!(!err.is_empty());
    // A callback (error) asks for the caller's line: stripped tables must answer it.
    let src = "local a = 1\nerror('x' .. a)";
    let stripped = dump_src(src, true);
    let err = run(&mut lua, &|ctx| undump_closure(ctx, &stripped), 100).unwrap_err();
    assert!(err.contains("x1"), "{err}");
    // Non-stripped dumps keep the original line table.
    Lua::core().enter(|ctx| {
        let p = compile(ctx, "local a = 1\nlocal b = 2\nreturn a + b");
        let q = proto::undump(ctx, &proto::dump(&p, false)).unwrap();
        assert_eq!(
            format!("{:?}", p.opcode_line_numbers),
            format!("{:?}", q.opcode_line_numbers)
        );
    });
}

#[test]
fn binary_chunk_detection() {
    assert!(proto::is_binary_chunk(b"\x1bLPF\x01"));
    assert!(proto::is_binary_chunk(b"\x1bLua"));
    assert!(!proto::is_binary_chunk(b"return 1"));
    assert!(!proto::is_binary_chunk(b""));
}

// ---------------------------------------------------------------------------------------
// Hand-written hostile prototypes

fn r(i: u8) -> RegisterIndex {
    RegisterIndex(i)
}

fn vc(n: Option<u8>) -> VarCount {
    n.map_or(VarCount::variable(), VarCount::constant)
}

fn ret0() -> Operation {
    Operation::Return {
        start: r(0),
        count: vc(Some(0)),
    }
}

/// A function with `stack_size` registers, these opcodes, one string constant, `_ENV`,
/// and the given nested functions.
fn func(stack_size: u16, ops: Vec<Operation>) -> CompiledPrototype<Vec<u8>> {
    CompiledPrototype {
        reference: FunctionRef::Chunk,
        fixed_params: 0,
        has_varargs: true,
        stack_size,
        constants: vec![Constant::String(b"k".to_vec())],
        opcodes: ops.into_iter().map(OpCode::encode).collect(),
        opcode_line_numbers: vec![(0, LineNumber(0))],
        upvalues: vec![UpValueDescriptor::Environment],
        prototypes: vec![],
    }
}

fn child(
    stack_size: u16,
    ups: Vec<UpValueDescriptor>,
    ops: Vec<Operation>,
) -> CompiledPrototype<Vec<u8>> {
    CompiledPrototype {
        reference: FunctionRef::Expression(LineNumber(1)),
        upvalues: ups,
        ..func(stack_size, ops)
    }
}

fn bytes_of(p: &CompiledPrototype<Vec<u8>>) -> Vec<u8> {
    Lua::core().enter(|ctx| {
        let fp =
            FunctionPrototype::from_compiled_map_strings(&ctx, ctx.intern(b"hostile"), p, |s| {
                ctx.intern(s)
            });
        proto::dump(&fp, false)
    })
}

fn undump_err(bytes: &[u8]) -> String {
    Lua::core().enter(|ctx| match proto::undump(ctx, bytes) {
        Ok(_) => panic!("accepted"),
        Err(e) => e.to_string(),
    })
}

fn rejects(p: CompiledPrototype<Vec<u8>>, needle: &str) {
    let msg = undump_err(&bytes_of(&p));
    assert!(msg.contains(needle), "expected {needle:?} in {msg:?}");
}

fn accepts(p: CompiledPrototype<Vec<u8>>) {
    let b = bytes_of(&p);
    Lua::core().enter(|ctx| proto::undump(ctx, &b).map(|_| ()).unwrap());
}

#[test]
fn header_errors() {
    let good = dump_src("return 1", false);
    assert_eq!(undump_err(b""), "truncated binary chunk");
    assert_eq!(undump_err(b"\x1bLP"), "truncated binary chunk");
    assert!(undump_err(b"\x1bLua\x54").starts_with("bad magic"));
    assert!(undump_err(b"return 1").starts_with("bad magic"));
    let mut v = good.clone();
    v[4] = 9;
    assert_eq!(undump_err(&v), "unsupported version 9");
    for cut in 5..good.len() {
        assert_eq!(
            undump_err(&good[..cut]),
            "truncated binary chunk",
            "cut {cut}"
        );
    }
    let mut v = good.clone();
    v.push(0);
    assert!(undump_err(&v).contains("trailing"));
    // Unknown tags are named, with where reading stopped.
    let tag_at = operand_ranges(&good)[0].0 - 1;
    let mut v = good.clone();
    v[tag_at] = 99;
    let msg = undump_err(&v);
    assert_eq!(
        msg,
        format!(
            "malformed binary chunk: bad opcode tag 99 before byte {}",
            tag_at + 1
        )
    );
    // A huge declared chunk-name length is refused before allocating anything.
    let mut v = good[..5].to_vec();
    v.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(undump_err(&v), "truncated binary chunk");
}

#[test]
fn message_names_register_opcode_and_function() {
    let mut ops = vec![
        Operation::LoadNil {
            dest: r(0),
            count: 1
        };
        17
    ];
    ops.push(Operation::Move {
        dest: r(250),
        source: r(0),
    });
    ops.push(ret0());
    let mut p = func(10, ops);
    p.reference = FunctionRef::Named(b"f".to_vec(), LineNumber(2));
    assert_eq!(
        undump_err(&bytes_of(&p)),
        "register 250 out of range (stack size 10) in opcode 17 of function <function 'f' at line 3>"
    );
}

#[test]
fn each_rule_rejects() {
    use Operation as O;
    let k = |i: u8| RCIndex::Constant(ConstantIndex8(i));
    let reg = |i: u8| RCIndex::Register(r(i));
    let one = |op: O| func(4, vec![op, ret0()]);

    // The baseline is fine.
    accepts(func(4, vec![ret0()]));
    // Registers, constants, upvalues, nested function indices.
    rejects(
        one(O::Move {
            dest: r(4),
            source: r(0),
        }),
        "register 4 out of range",
    );
    rejects(
        one(O::Not {
            dest: r(0),
            source: r(9),
        }),
        "register 9 out of range",
    );
    rejects(
        one(O::LoadConstant {
            dest: r(0),
            constant: ConstantIndex16(1),
        }),
        "constant 1 out of range",
    );
    rejects(
        one(O::Add {
            dest: r(0),
            left: k(3),
            right: reg(0),
        }),
        "constant 3 out of range",
    );
    rejects(
        one(O::Eq {
            skip_if: true,
            left: reg(0),
            right: reg(200),
        }),
        "register 200",
    );
    rejects(
        one(O::GetUpValue {
            dest: r(0),
            source: UpValueIndex(1),
        }),
        "upvalue 1 out of range",
    );
    rejects(
        one(O::SetUpTable {
            table: UpValueIndex(5),
            key: k(0),
            value: k(0),
        }),
        "upvalue 5",
    );
    rejects(
        one(O::Closure {
            dest: r(0),
            proto: PrototypeIndex(0),
        }),
        "function 0 out of range",
    );
    // Register ranges.
    rejects(
        one(O::LoadNil {
            dest: r(2),
            count: 3,
        }),
        "registers 2..5",
    );
    rejects(
        func(
            256,
            vec![
                O::LoadNil {
                    dest: r(200),
                    count: 56,
                },
                ret0(),
            ],
        ),
        "overflows",
    );
    rejects(
        one(O::Concat {
            dest: r(0),
            source: r(2),
            count: 3,
        }),
        "registers 2..5",
    );
    rejects(
        one(O::Method {
            base: r(3),
            table: r(0),
            key: k(0),
        }),
        "registers 3..5",
    );
    rejects(
        one(O::SetList {
            base: r(1),
            count: vc(Some(2)),
        }),
        "registers 1..5",
    );
    rejects(
        one(O::Call {
            func: r(1),
            args: vc(Some(3)),
            returns: vc(Some(0)),
        }),
        "registers 1..5",
    );
    rejects(
        one(O::Call {
            func: r(1),
            args: vc(Some(0)),
            returns: vc(Some(4)),
        }),
        "registers 1..5",
    );
    rejects(
        func(
            4,
            vec![O::TailCall {
                func: r(2),
                args: vc(Some(2)),
            }],
        ),
        "registers 2..5",
    );
    rejects(
        func(
            4,
            vec![O::Return {
                start: r(2),
                count: vc(Some(3)),
            }],
        ),
        "registers 2..5",
    );
    rejects(
        one(O::VarArgs {
            dest: r(2),
            count: vc(Some(3)),
        }),
        "registers 2..5",
    );
    rejects(
        one(O::NumericForPrep {
            base: r(2),
            jump: 0,
        }),
        "registers 2..5",
    );
    rejects(
        one(O::NumericForLoop {
            base: r(1),
            jump: 0,
        }),
        "registers 1..5",
    );
    rejects(
        one(O::GenericForCall {
            base: r(0),
            var_count: 2,
        }),
        "registers 0..5",
    );
    rejects(
        func(
            255,
            vec![
                O::GenericForCall {
                    base: r(0),
                    var_count: 255,
                },
                ret0(),
            ],
        ),
        "255 variables",
    );
    rejects(
        one(O::GenericForLoop {
            base: r(3),
            jump: 0,
        }),
        "registers 3..5",
    );
    // Varargs only in vararg functions.
    let mut p = one(O::VarArgs {
        dest: r(0),
        count: vc(Some(1)),
    });
    p.has_varargs = false;
    rejects(p, "without `...`");
    // Control flow stays inside the function.
    rejects(
        func(
            4,
            vec![
                O::Jump {
                    offset: 1,
                    close_upvalues: Opt254::none(),
                },
                ret0(),
            ],
        ),
        "leaves the function",
    );
    rejects(
        func(
            4,
            vec![
                ret0(),
                O::Jump {
                    offset: -3,
                    close_upvalues: Opt254::none(),
                },
            ],
        ),
        "leaves the function",
    );
    rejects(
        func(
            4,
            vec![
                ret0(),
                O::Jump {
                    offset: i16::MIN,
                    close_upvalues: Opt254::none(),
                },
            ],
        ),
        "-32768",
    );
    rejects(
        func(
            4,
            vec![O::LoadNil {
                dest: r(0),
                count: 1,
            }],
        ),
        "runs past the last opcode",
    );
    rejects(
        func(
            4,
            vec![
                O::LoadBool {
                    dest: r(0),
                    value: true,
                    skip_next: true,
                },
                ret0(),
            ],
        ),
        "runs past",
    );
    rejects(
        func(
            4,
            vec![
                O::Test {
                    value: r(0),
                    is_true: true,
                },
                ret0(),
            ],
        ),
        "runs past",
    );
    rejects(
        func(
            4,
            vec![
                O::NumericForLoop {
                    base: r(0),
                    jump: 5,
                },
                ret0(),
            ],
        ),
        "leaves the function",
    );
    rejects(func(4, vec![]), "for 0 opcodes");
    // Stack size against parameters and register width.
    let mut p = func(2, vec![ret0()]);
    p.fixed_params = 3;
    rejects(p, "3 parameters exceed stack size 2");
    rejects(func(300, vec![ret0()]), "stack size 300 above 256");
    // Variable results must be taken by the very next opcode, from at or below them.
    rejects(
        func(
            4,
            vec![
                O::Call {
                    func: r(1),
                    args: vc(Some(0)),
                    returns: vc(None),
                },
                ret0(),
            ],
        ),
        "variable results",
    );
    rejects(
        func(
            4,
            vec![
                O::VarArgs {
                    dest: r(1),
                    count: vc(None),
                },
                O::Return {
                    start: r(2),
                    count: vc(None),
                },
            ],
        ),
        "variable results",
    );
    rejects(
        func(
            4,
            vec![
                O::VarArgs {
                    dest: r(1),
                    count: vc(None),
                },
                O::Call {
                    func: r(1),
                    args: vc(None),
                    returns: vc(Some(0)),
                },
                ret0(),
            ],
        ),
        "variable results",
    );
    rejects(
        func(
            4,
            vec![
                O::VarArgs {
                    dest: r(2),
                    count: vc(None),
                },
                O::SetList {
                    base: r(1),
                    count: vc(None),
                },
                ret0(),
            ],
        ),
        "variable results",
    );
    accepts(func(
        4,
        vec![
            O::VarArgs {
                dest: r(1),
                count: vc(None),
            },
            O::Return {
                start: r(1),
                count: vc(None),
            },
        ],
    ));
    // piccolo pops the frame before checking a return's stack state: only the producer may
    // lead to a variable return.
    rejects(
        func(
            4,
            vec![O::Return {
                start: r(0),
                count: vc(None),
            }],
        ),
        "variable return",
    );
    rejects(
        func(
            4,
            vec![
                O::Test {
                    value: r(0),
                    is_true: true,
                },
                O::VarArgs {
                    dest: r(1),
                    count: vc(None),
                },
                O::Return {
                    start: r(1),
                    count: vc(None),
                },
            ],
        ),
        "variable return reached from opcode 0",
    );
    rejects(
        func(
            4,
            vec![
                O::Call {
                    func: r(0),
                    args: vc(Some(0)),
                    returns: vc(Some(1)),
                },
                O::Return {
                    start: r(1),
                    count: vc(None),
                },
            ],
        ),
        "variable return reached from opcode 0",
    );
    accepts(func(
        4,
        vec![
            O::VarArgs {
                dest: r(1),
                count: vc(None),
            },
            O::Call {
                func: r(0),
                args: vc(None),
                returns: vc(Some(0)),
            },
            ret0(),
        ],
    ));
    // Nested functions: upvalues must exist in the parent, `_ENV` only at the top.
    let mut p = func(
        2,
        vec![
            O::Closure {
                dest: r(0),
                proto: PrototypeIndex(0),
            },
            ret0(),
        ],
    );
    p.prototypes = vec![Box::new(child(
        1,
        vec![UpValueDescriptor::ParentLocal(r(2))],
        vec![ret0()],
    ))];
    rejects(p.clone(), "not available in the enclosing function");
    p.prototypes = vec![Box::new(child(
        1,
        vec![UpValueDescriptor::Outer(UpValueIndex(1))],
        vec![ret0()],
    ))];
    rejects(p.clone(), "not available");
    p.prototypes = vec![Box::new(child(
        1,
        vec![UpValueDescriptor::Environment],
        vec![ret0()],
    ))];
    rejects(p.clone(), "not available");
    p.prototypes = vec![Box::new(child(
        1,
        vec![UpValueDescriptor::ParentLocal(r(1))],
        vec![ret0()],
    ))];
    accepts(p.clone());
    // ... and their own opcodes are checked too, with their own name in the message.
    p.prototypes = vec![Box::new(child(
        1,
        vec![],
        vec![
            O::Move {
                dest: r(1),
                source: r(0),
            },
            ret0(),
        ],
    ))];
    rejects(p.clone(), "in opcode 0 of function <function at line 2>");
    // An open upvalue at or above a call's function register would break piccolo's frame
    // assertions: refused unless a jump closes it first.
    let capture = |close: Option<u8>| {
        let mut ops = vec![O::Closure {
            dest: r(0),
            proto: PrototypeIndex(0),
        }];
        if let Some(c) = close {
            ops.push(O::Jump {
                offset: 0,
                close_upvalues: Opt254::some(c),
            });
        }
        ops.push(O::Call {
            func: r(1),
            args: vc(Some(0)),
            returns: vc(Some(0)),
        });
        ops.push(ret0());
        let mut p = func(4, ops);
        p.prototypes = vec![Box::new(child(
            1,
            vec![UpValueDescriptor::ParentLocal(r(2))],
            vec![ret0()],
        ))];
        p
    };
    rejects(capture(None), "open upvalue");
    rejects(capture(Some(3)), "open upvalue");
    accepts(capture(Some(2)));
    accepts(capture(Some(0)));
    // Main function upvalues must suit `Closure::new` (`undump_detached` allows others).
    let mut p = func(1, vec![ret0()]);
    p.upvalues = vec![UpValueDescriptor::Outer(UpValueIndex(0))];
    rejects(p.clone(), "main function");
    let b = bytes_of(&p);
    Lua::core().enter(|ctx| assert_eq!(proto::undump_detached(ctx, &b).unwrap().upvalues.len(), 1));
}

#[test]
fn nesting_depth_is_capped() {
    // Debug builds need far more stack per level than the ~1 KiB of a release build.
    let big_stack = std::thread::Builder::new().stack_size(256 << 20);
    big_stack
        .spawn(|| {
            let nest = |levels: usize| {
                let mut deep = child(1, vec![], vec![ret0()]);
                for _ in 1..levels {
                    let mut up = child(1, vec![], vec![ret0()]);
                    up.prototypes = vec![Box::new(deep)];
                    deep = up;
                }
                deep.upvalues = vec![];
                bytes_of(&deep)
            };
            let b = nest(proto::MAX_DEPTH);
            Lua::core().enter(|ctx| proto::undump(ctx, &b).map(|_| ()).unwrap());
            let msg = undump_err(&nest(proto::MAX_DEPTH + 1));
            assert_eq!(
                msg,
                format!("functions nested deeper than {}", proto::MAX_DEPTH)
            );
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Builds the smallest valid chunk around a line table, to test its rules byte by byte.
fn raw_with_lines(lines: &[(u32, u64)]) -> Vec<u8> {
    let mut v = b"\x1bLPF\x01".to_vec();
    v.extend_from_slice(&1u32.to_le_bytes());
    v.push(b'x');
    v.extend_from_slice(&[0, 0, 0, 1, 0]); // chunk, 0 params, no varargs, stack 1
    v.extend_from_slice(&0u32.to_le_bytes()); // constants
    v.extend_from_slice(&2u32.to_le_bytes()); // opcodes
    v.extend_from_slice(&[3, 0, 1, 12, 0, 0]); // LoadNil r0 1; Return r0 0
    v.extend_from_slice(&(lines.len() as u32).to_le_bytes());
    for (i, l) in lines {
        v.extend_from_slice(&i.to_le_bytes());
        v.extend_from_slice(&l.to_le_bytes());
    }
    v.extend_from_slice(&0u32.to_le_bytes()); // upvalues
    v.extend_from_slice(&0u32.to_le_bytes()); // functions
    v
}

#[test]
fn line_table_rules() {
    let ok = |lines: &[(u32, u64)]| {
        let b = raw_with_lines(lines);
        Lua::core().enter(|ctx| proto::undump(ctx, &b).map(|p| p.opcode_line_numbers.len()))
    };
    assert_eq!(ok(&[]), Ok(1), "stripped tables get a synthetic entry");
    assert_eq!(ok(&[(0, 5)]), Ok(1));
    assert_eq!(ok(&[(0, 5), (1, 2)]), Ok(2));
    for bad in [
        &[(1, 5)][..],
        &[(0, 5), (0, 6)],
        &[(0, 5), (2, 6)],
        &[(0, 1), (1, 1), (1, 2)],
    ] {
        assert!(
            matches!(
                ok(bad),
                Err(UndumpError::Invalid { .. } | UndumpError::Malformed(_))
            ),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn every_operation_survives_the_format() {
    use Operation as O;
    let k = RCIndex::Constant(ConstantIndex8(0));
    let g = RCIndex::Register(r(1));
    let ops = vec![
        O::Move {
            dest: r(0),
            source: r(1),
        },
        O::LoadConstant {
            dest: r(0),
            constant: ConstantIndex16(0),
        },
        O::LoadBool {
            dest: r(0),
            value: true,
            skip_next: false,
        },
        O::LoadNil {
            dest: r(0),
            count: 2,
        },
        O::NewTable {
            dest: r(0),
            array_size: 3,
            map_size: 4,
        },
        O::GetTable {
            dest: r(0),
            table: r(1),
            key: k,
        },
        O::SetTable {
            table: r(0),
            key: g,
            value: k,
        },
        O::GetUpTable {
            dest: r(0),
            table: UpValueIndex(0),
            key: k,
        },
        O::SetUpTable {
            table: UpValueIndex(0),
            key: k,
            value: g,
        },
        O::SetList {
            base: r(0),
            count: vc(Some(1)),
        },
        O::Call {
            func: r(0),
            args: vc(Some(1)),
            returns: vc(Some(2)),
        },
        O::Method {
            base: r(0),
            table: r(1),
            key: k,
        },
        O::Concat {
            dest: r(0),
            source: r(1),
            count: 2,
        },
        O::GetUpValue {
            dest: r(0),
            source: UpValueIndex(0),
        },
        O::SetUpValue {
            dest: UpValueIndex(0),
            source: r(1),
        },
        O::Length {
            dest: r(0),
            source: r(1),
        },
        O::Eq {
            skip_if: true,
            left: g,
            right: k,
        },
        O::Jump {
            offset: 0,
            close_upvalues: Opt254::some(2),
        },
        O::Less {
            skip_if: false,
            left: k,
            right: g,
        },
        O::Jump {
            offset: 0,
            close_upvalues: Opt254::none(),
        },
        O::LessEq {
            skip_if: true,
            left: g,
            right: g,
        },
        O::Jump {
            offset: 0,
            close_upvalues: Opt254::none(),
        },
        O::Test {
            value: r(0),
            is_true: true,
        },
        O::Jump {
            offset: 0,
            close_upvalues: Opt254::none(),
        },
        O::TestSet {
            dest: r(0),
            value: r(1),
            is_true: false,
        },
        O::Jump {
            offset: 0,
            close_upvalues: Opt254::none(),
        },
        O::Not {
            dest: r(0),
            source: r(1),
        },
        O::Minus {
            dest: r(0),
            source: r(1),
        },
        O::BitNot {
            dest: r(0),
            source: r(1),
        },
        O::Add {
            dest: r(0),
            left: g,
            right: k,
        },
        O::Sub {
            dest: r(0),
            left: k,
            right: g,
        },
        O::Mul {
            dest: r(0),
            left: g,
            right: g,
        },
        O::Div {
            dest: r(0),
            left: k,
            right: k,
        },
        O::IDiv {
            dest: r(0),
            left: g,
            right: k,
        },
        O::Mod {
            dest: r(0),
            left: g,
            right: k,
        },
        O::Pow {
            dest: r(0),
            left: g,
            right: k,
        },
        O::BitAnd {
            dest: r(0),
            left: g,
            right: k,
        },
        O::BitOr {
            dest: r(0),
            left: g,
            right: k,
        },
        O::BitXor {
            dest: r(0),
            left: g,
            right: k,
        },
        O::ShiftLeft {
            dest: r(0),
            left: g,
            right: k,
        },
        O::ShiftRight {
            dest: r(0),
            left: g,
            right: k,
        },
        O::NumericForPrep {
            base: r(0),
            jump: 0,
        },
        O::NumericForLoop {
            base: r(0),
            jump: -1,
        },
        O::GenericForCall {
            base: r(0),
            var_count: 1,
        },
        O::GenericForLoop {
            base: r(0),
            jump: -2,
        },
        O::VarArgs {
            dest: r(0),
            count: vc(Some(2)),
        },
        O::VarArgs {
            dest: r(1),
            count: vc(None),
        },
        O::Call {
            func: r(0),
            args: vc(None),
            returns: vc(None),
        },
        O::Return {
            start: r(0),
            count: vc(None),
        },
        // Unreachable here, so its open upvalue does not meet the calls above.
        O::Closure {
            dest: r(0),
            proto: PrototypeIndex(0),
        },
        O::TailCall {
            func: r(0),
            args: vc(Some(2)),
        },
    ];
    let mut p = func(8, ops.clone());
    p.prototypes = vec![Box::new(child(
        1,
        vec![UpValueDescriptor::ParentLocal(r(1))],
        vec![ret0()],
    ))];
    let b = bytes_of(&p);
    Lua::core().enter(|ctx| {
        let q = proto::undump(ctx, &b).unwrap();
        let back: Vec<String> = q
            .opcodes
            .iter()
            .map(|o| format!("{:?}", o.decode()))
            .collect();
        let want: Vec<String> = ops.iter().map(|o| format!("{o:?}")).collect();
        assert_eq!(back, want);
    });
}

/// piccolo 0.3.3 panics on these plain-source programs, whatever `proto` does (found while
/// writing the mutation loop): a tail call passing fewer arguments than the callee has
/// parameters fills `stack[bottom + 1 + args .. bottom + 1 + params]` without growing the
/// stack (thread.rs:949, release builds too); `math.mininteger % -1` overflows Rust's `%`
/// (constant.rs, release too); `1 << 64` and integer for loops ending near
/// `math.maxinteger` overflow (constant.rs, vm.rs:291, only with overflow checks; release
/// builds give a wrong shift and an endless loop). They need a patched piccolo.
#[test]
#[ignore = "piccolo 0.3.3 bugs; run with --ignored once piccolo is patched"]
fn piccolo_source_reachable_panics() {
    for src in [
        "local function g(a, b, c) return c end local function f(...) return g(...) end return f()",
        "local function g(a, b, c, d, e, f, h, i, j, k) return k end \
         local function f() return g() end return f()",
        "local a, b = math.mininteger, -1 return a % b",
        "local n = 64 return 1 << n",
        "local m = math.maxinteger for i = m - 1, m do end return 1",
    ] {
        let got = catch_unwind(AssertUnwindSafe(|| {
            run(
                &mut Lua::core(),
                &|ctx| Ok(stdlib::main_closure(ctx, compile(ctx, src), ctx.globals())),
                100,
            )
        }));
        assert!(matches!(got, Ok(Ok(Some(_)))), "{src}: {got:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Mutation loop

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, v: &mut Vec<u8>) {
    const WORDS: [u32; 12] = [
        0,
        1,
        2,
        0xfe,
        0xff,
        0x100,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        u32::MAX,
    ];
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(v.len());
        match rng.below(9) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.below(8),
            1 if !v.is_empty() => v[at] = rng.next() as u8,
            2 if !v.is_empty() => {
                v[at] = v[at].wrapping_add(if rng.below(2) == 0 { 1 } else { 255 })
            }
            3 if !v.is_empty() => v[at] = [0, 1, 2, 3, 127, 128, 253, 254, 255][rng.below(9)],
            4 => v.insert(at, rng.next() as u8),
            5 if !v.is_empty() => {
                v.remove(at);
            }
            6 => v.truncate(at),
            7 if v.len() >= 4 => {
                let at = rng.below(v.len() - 3);
                v[at..at + 4].copy_from_slice(&WORDS[rng.below(WORDS.len())].to_le_bytes());
            }
            8 if v.len() >= 2 => {
                let at = rng.below(v.len() - 1);
                let w = [0x8000u16, 0x7fff, 0xffff, 0xfffe, 1, 2, 0][rng.below(7)];
                v[at..at + 2].copy_from_slice(&w.to_le_bytes());
            }
            _ => {}
        }
    }
}

/// Byte ranges of every opcode's operands (after the tag) in a valid dump, found by walking
/// the documented layout, so that mutations can aim at operands.
fn operand_ranges(v: &[u8]) -> Vec<(usize, usize)> {
    fn u32_at(v: &[u8], at: usize) -> usize {
        u32::from_le_bytes(v[at..at + 4].try_into().unwrap()) as usize
    }
    fn function(v: &[u8], mut at: usize, out: &mut Vec<(usize, usize)>) -> usize {
        at += match v[at] {
            0 => 1,
            1 => 9,
            _ => 1 + 4 + u32_at(v, at + 1) + 8,
        };
        at += 4;
        let n = u32_at(v, at);
        at += 4;
        for _ in 0..n {
            at += match v[at] {
                0..=2 => 1,
                3 | 4 => 9,
                _ => 5 + u32_at(v, at + 1),
            };
        }
        let n = u32_at(v, at);
        at += 4;
        for _ in 0..n {
            let len = match v[at] {
                0 | 3 | 9 | 11 | 12 | 13 | 15 | 17 | 20 | 24 | 25 | 26 | 30..=32 => 2,
                1 | 2 | 4 | 10 | 14 | 16 | 18 | 19 | 21 | 23 => 3,
                5 | 7 | 22 => 4,
                _ => 5,
            };
            out.push((at + 1, at + 1 + len));
            at += 1 + len;
        }
        at += 4 + 12 * u32_at(v, at);
        let n = u32_at(v, at);
        at += 4;
        for _ in 0..n {
            at += if v[at] == 0 { 1 } else { 2 };
        }
        let n = u32_at(v, at);
        at += 4;
        for _ in 0..n {
            at = function(v, at, out);
        }
        at
    }
    let mut out = Vec::new();
    let end = function(v, 9 + u32_at(v, 5), &mut out);
    assert_eq!(end, v.len());
    out
}

fn mutate_operand(rng: &mut XorShift, v: &mut [u8], ranges: &[(usize, usize)]) {
    for _ in 0..1 + rng.below(2) {
        let (start, end) = ranges[rng.below(ranges.len())];
        let at = start + rng.below(end - start);
        v[at] = match rng.below(4) {
            0 => v[at].wrapping_add(1),
            1 => v[at].wrapping_sub(1),
            2 => [0, 1, 2, 3, 4, 127, 128, 254, 255][rng.below(9)],
            _ => rng.next() as u8,
        };
    }
}

type Seed = (Vec<u8>, Vec<(usize, usize)>);

#[test]
fn mutated_dumps_never_panic() {
    // Each dump with the byte ranges of its opcode operands.
    let seeds: Vec<Seed> = CORPUS
        .iter()
        .flat_map(|src| [dump_src(src, false), dump_src(src, true)])
        .map(|v| {
            let ranges = operand_ranges(&v);
            (v, ranges)
        })
        .collect();
    let cases: usize = std::env::var("PROTO_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    // The piccolo panics that plain source reaches too (`piccolo_source_reachable_panics`)
    // are counted, not failed: no check on bytecode can prevent them.
    // `None`: not in the loop; `Some(None)`: armed; `Some(Some(at))`: a known panic at `at`.
    thread_local!(static KNOWN: std::cell::RefCell<Option<Option<String>>> = const {
        std::cell::RefCell::new(None)
    });
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if KNOWN.with(|k| k.borrow().is_some()) {
            let known = info.location().filter(|l| {
                l.file().ends_with("piccolo-0.3.3/src/constant.rs")
                    || (l.file().ends_with("piccolo-0.3.3/src/thread/thread.rs") && l.line() == 949)
                    || (l.file().ends_with("piccolo-0.3.3/src/thread/vm.rs") && l.line() == 291)
            });
            if let Some(l) = known {
                let at = format!("{}:{}", l.file().rsplit("src/").next().unwrap(), l.line());
                KNOWN.with(|k| *k.borrow_mut() = Some(Some(at)));
                return;
            }
        }
        default_hook(info)
    }));
    let mut known_bugs = std::collections::BTreeMap::<String, usize>::new();
    let seed = std::env::var("PROTO_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut rng = XorShift(seed.unwrap_or(0x9e37_79b9_7f4a_7c15) | 1);
    let (mut accepted, mut finished, mut failed) = (0, 0, 0);
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for case in 0..cases {
        // Half the cases aim at opcode operands (most of those pass the structural checks
        // and exercise the semantic ones), half at any byte.
        let (seed, ranges) = &seeds[rng.below(seeds.len())];
        let mut v = seed.clone();
        if case % 2 == 0 {
            mutate_operand(&mut rng, &mut v, ranges);
        } else {
            mutate(&mut rng, &mut v);
        }
        KNOWN.with(|k| *k.borrow_mut() = Some(None));
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut lua = Lua::core();
            // Keep mutated programs from asking the library for huge allocations.
            lua.enter(|ctx| {
                let Value::Table(t) = ctx.globals().get(ctx, "table") else {
                    unreachable!()
                };
                t.set(ctx, "unpack", Value::Nil).unwrap();
                ctx.globals().set(ctx, "print", Value::Nil).unwrap();
            });
            let undumped = lua.enter(|ctx| proto::undump_detached(ctx, &v).map(|_| ()));
            match undumped {
                Err(e) => Err(e),
                Ok(()) => Ok(run(&mut lua, &|ctx| undump_closure(ctx, &v), 200)),
            }
        }));
        let known = KNOWN.with(|k| k.borrow_mut().replace(None)).flatten();
        match outcome {
            Err(_) => match known {
                Some(at) => *known_bugs.entry(at).or_default() += 1,
                None => panic!("case {case} panicked; bytes: {v:?}"),
            },
            Ok(Err(e)) => {
                // Group by rule: drop numbers and where it happened.
                let msg = e.to_string();
                let msg = msg
                    .split(" in opcode")
                    .next()
                    .unwrap()
                    .split(" of function")
                    .next()
                    .unwrap();
                let key: String = msg.chars().filter(|c| !c.is_ascii_digit()).collect();
                *reasons.entry(key).or_default() += 1;
            }
            Ok(Ok(run)) => {
                accepted += 1;
                match run {
                    Ok(Some(_)) => finished += 1,
                    Ok(None) => {}
                    Err(_) => failed += 1,
                }
            }
        }
    }
    KNOWN.with(|k| *k.borrow_mut() = None);
    println!(
        "{cases} mutations: {accepted} accepted ({finished} finished, {failed} raised a Lua error, \
         known piccolo panics {known_bugs:?}), rejected: {reasons:?}"
    );
    assert!(accepted > 0);
}
