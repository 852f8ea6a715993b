//! Dump and undump give back the same prototype; the VM runs it the same;
//! `string.dump` and `load` behave as lua5.4's.

use lua_persist_vm::dump::{dump, undump, verify, HEADER_LEN};
use lua_persist_vm::proto::FunctionProto;
use lua_persist_vm::{Step, Value};

use super::{new_lua, out, programs, run, Out};

/// What `strip` keeps of a prototype.
fn stripped(p: &FunctionProto) -> FunctionProto {
    let mut p = p.clone();
    let mut pending: Vec<&mut FunctionProto> = std::vec![&mut p];
    while let Some(f) = pending.pop() {
        f.source = std::rc::Rc::from(&b"=?"[..]);
        f.lines.clear();
        f.locals.clear();
        for u in &mut f.upvalues {
            u.name = Default::default();
        }
        pending.extend(f.protos.iter_mut());
    }
    p
}

#[test]
fn hand_built_programs_verify_and_round_trip() {
    for p in programs::all() {
        verify(&p).unwrap();
        assert_eq!(undump(&dump(&p, false), b"=t").unwrap(), p);
        assert_eq!(undump(&dump(&p, true), b"=t").unwrap(), stripped(&p));
    }
}

#[test]
fn hand_built_programs_run() {
    assert_eq!(
        run(programs::numeric_for(), &[10]),
        Ok(std::vec![Out::Int(55)])
    );
    assert_eq!(
        run(programs::generic_for_and_closure(), &[]),
        Ok(std::vec![Out::Str(b"60!".to_vec())])
    );
    assert_eq!(
        run(programs::varargs_and_tbc(), &[4, 5, 6]),
        Ok(std::vec![Out::Int(3)])
    );
    assert_eq!(
        run(programs::branches_and_tables(), &[]),
        Ok(std::vec![Out::Bool(true), Out::Num(-1.0), Out::Int(1)])
    );
    assert_eq!(
        run(programs::nested_closures_and_globals(), &[]),
        Ok(std::vec![
            Out::Bool(true),
            Out::Str(b"\0\xff".to_vec()),
            Out::Num(-1e300),
            Out::Other("table")
        ])
    );
}

#[test]
fn undumped_programs_run_like_the_originals() {
    for p in programs::all() {
        let again = undump(&dump(&p, true), b"=t").unwrap();
        assert_eq!(run(again, &[7, 8]), run(p, &[7, 8]));
    }
}

#[test]
fn nested_functions_share_the_source_in_the_chunk() {
    let mut p = programs::nested_closures_and_globals();
    let long: std::rc::Rc<[u8]> = std::vec![b'x'; 1000].into();
    p.source = long.clone();
    p.protos[0].source = long.clone();
    p.protos[0].protos[0].source = long;
    let chunk = dump(&p, false);
    assert!(chunk.len() > 1000 && chunk.len() < 1300, "{}", chunk.len());
    assert_eq!(undump(&chunk, b"=t").unwrap(), p);
}

#[test]
fn floats_keep_their_bits() {
    let mut p = programs::numeric_for();
    let odd = [
        f64::NAN,
        -0.0,
        f64::INFINITY,
        f64::MIN_POSITIVE / 2.0,
        -f64::NAN,
    ];
    p.constants = odd
        .iter()
        .map(|&f| lua_persist_vm::proto::Constant::Float(f))
        .collect();
    let back = undump(&dump(&p, false), b"=t").unwrap();
    for (k, f) in back.constants.iter().zip(odd) {
        let lua_persist_vm::proto::Constant::Float(g) = k else {
            panic!("{k:?}")
        };
        assert_eq!(g.to_bits(), f.to_bits());
    }
}

#[test]
fn every_prefix_of_a_chunk_is_truncated() {
    for p in programs::all() {
        let chunk = dump(&p, false);
        for end in 0..chunk.len() {
            if end == 0 {
                continue;
            }
            let e = undump(&chunk[..end], b"=t").unwrap_err();
            assert!(e.contains("truncated"), "{end}: {e}");
        }
        let mut longer = chunk.clone();
        longer.push(0);
        assert!(undump(&longer, b"=t").unwrap_err().contains("extra bytes"));
    }
}

#[test]
fn messages_name_the_chunk_as_lua_does() {
    let chunk = dump(&programs::numeric_for(), false);
    let short = &chunk[..10];
    assert_eq!(
        undump(short, &chunk).unwrap_err(),
        "binary string: bad binary format (truncated chunk)"
    );
    assert_eq!(
        undump(short, b"=x").unwrap_err(),
        "x: bad binary format (truncated chunk)"
    );
    assert_eq!(
        undump(short, b"@f.lua").unwrap_err(),
        "f.lua: bad binary format (truncated chunk)"
    );
    assert_eq!(
        undump(b"\x1bLux", b"=x").unwrap_err(),
        "x: bad binary format (not a binary chunk)"
    );
}

#[test]
fn every_header_byte_is_checked() {
    let chunk = dump(&programs::numeric_for(), false);
    assert_eq!(HEADER_LEN, 15);
    for i in 0..HEADER_LEN {
        let mut bad = chunk.clone();
        bad[i] = bad[i].wrapping_add(1);
        assert!(undump(&bad, b"=t").is_err(), "byte {i}");
    }
    let mut newer = chunk.clone();
    newer[8] += 1;
    assert_eq!(
        undump(&newer, b"=x").unwrap_err(),
        "x: bad binary format (format version mismatch)"
    );
}

#[test]
fn chunks_mangled_as_text_are_caught() {
    let chunk = dump(&programs::numeric_for(), false);
    let crlf_to_lf: Vec<u8> = chunk
        .iter()
        .enumerate()
        .filter(|&(i, &b)| !(b == b'\r' && chunk.get(i + 1) == Some(&b'\n')))
        .map(|(_, &b)| b)
        .collect();
    let seven_bit: Vec<u8> = chunk.iter().map(|b| b & 0x7f).collect();
    for mangled in [crlf_to_lf, seven_bit] {
        assert_eq!(
            undump(&mangled, b"=x").unwrap_err(),
            "x: bad binary format (corrupted chunk)"
        );
    }
}

#[test]
fn lua54_chunks_are_refused_by_name() {
    // The start of `luac5.4`'s output for an empty chunk.
    let puc = b"\x1bLuaT\x00\x19\x93\r\n\x1a\n\x04\x08\x08xV\x00\x00";
    let e = undump(puc, b"=x").unwrap_err();
    assert_eq!(
        e,
        "x: bad binary format (precompiled by PUC-Rio Lua, not by this VM)"
    );
}

/// Calls the global library function `path` (`"load"`, `"string.dump"`) with `args` made
/// by `make`, returning its results.
fn call_library<F>(path: &'static [&'static str], make: F) -> Result<Vec<Out>, std::string::String>
where
    F: for<'gc> FnOnce(lua_persist_vm::Ctx<'gc>) -> Vec<Value<'gc>>,
{
    let mut lua = new_lua();
    lua.start(|ctx| {
        let mut f = Value::Table(ctx.globals());
        for name in path {
            if let Value::Table(t) = f {
                f = t.get_str(ctx.intern(name.as_bytes()));
            }
        }
        (f, make(ctx))
    });
    match lua.run() {
        Step::Done => Ok(lua.results(|_, values| values.iter().map(|&v| out(v)).collect())),
        Step::Error(e) => Err(e.message),
        Step::Exit(_) => Err(std::string::String::from("os.exit")),
        Step::Pending => unreachable!(),
    }
}

#[test]
fn string_dump_gives_the_prototype() {
    for strip in [false, true] {
        let p = programs::nested_closures_and_globals();
        let plain = p.clone();
        let results = call_library(&["string", "dump"], move |ctx| {
            let f = ctx.load_proto(plain, None);
            std::vec![Value::from(f), Value::Boolean(strip)]
        })
        .unwrap();
        let [Out::Str(chunk)] = &results[..] else {
            panic!("{results:?}")
        };
        let expected = if strip { stripped(&p) } else { p };
        assert_eq!(undump(chunk, b"=t").unwrap(), expected);
    }
}

#[test]
fn string_dump_refuses_natives_and_non_functions() {
    let e = call_library(&["string", "dump"], |ctx| {
        std::vec![ctx.globals().get_str(ctx.intern(b"print"))]
    });
    assert_eq!(e, Err("unable to dump given function".into()));
    let e = call_library(&["string", "dump"], |_| std::vec![]);
    assert_eq!(
        e,
        Err("bad argument #1 to 'string.dump' (function expected, got no value)".into())
    );
}

#[test]
fn load_reads_binary_chunks_in_modes_b_and_bt() {
    let chunk = dump(&programs::numeric_for(), false);
    for mode in [&b"b"[..], b"bt"] {
        let chunk = chunk.clone();
        let results = call_library(&["load"], move |ctx| {
            std::vec![
                ctx.str_value(&chunk),
                ctx.str_value(b"=chunk"),
                ctx.str_value(mode)
            ]
        })
        .unwrap();
        assert_eq!(results, std::vec![Out::Other("function")]);
    }
    let results = call_library(&["load"], move |ctx| {
        std::vec![ctx.str_value(&chunk), Value::Nil, ctx.str_value(b"t")]
    })
    .unwrap();
    assert_eq!(
        results,
        std::vec![
            Out::Nil,
            Out::Str(b"attempt to load a binary chunk (mode is 't')".to_vec())
        ]
    );
}

#[test]
fn load_answers_malformed_chunks_with_a_message() {
    let mut chunk = dump(&programs::numeric_for(), false);
    chunk.truncate(20);
    let results = call_library(&["load"], move |ctx| std::vec![ctx.str_value(&chunk)]).unwrap();
    assert_eq!(
        results,
        std::vec![
            Out::Nil,
            Out::Str(b"binary string: bad binary format (truncated chunk)".to_vec())
        ]
    );
}

#[test]
fn loaded_chunks_get_the_environment_as_first_upvalue() {
    // `g` is set through `_ENV`: with an environment table given to `load`, it lands there.
    let chunk = dump(&programs::nested_closures_and_globals(), false);
    let mut lua = new_lua();
    lua.start(|ctx| {
        let load = ctx.globals().get_str(ctx.intern(b"load"));
        let env = ctx.new_table();
        ctx.registry()
            .set_str(ctx.mc, ctx.intern(b"test env"), Value::Table(env));
        let args = std::vec![
            ctx.str_value(&chunk),
            Value::Nil,
            Value::Nil,
            Value::Table(env)
        ];
        (load, args)
    });
    assert!(matches!(lua.run(), Step::Done));
    lua.start(|ctx| {
        let ts = ctx.main_thread().state();
        (ts.stack[0], std::vec![])
    });
    assert!(matches!(lua.run(), Step::Done));
    lua.enter(|ctx| {
        let Value::Table(env) = ctx.registry().get_str(ctx.intern(b"test env")) else {
            panic!("no env")
        };
        assert!(matches!(env.get_str(ctx.intern(b"g")), Value::Function(_)));
        assert!(ctx.globals().get_str(ctx.intern(b"g")).is_nil());
    });
}
