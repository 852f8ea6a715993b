//! Limits a host sets on a state: the memory limit, fuel (slices that stop and resume),
//! and recursion depth.

use std::cell::RefCell;
use std::rc::Rc;

use lua_persist_vm::{Config, Host, Lua, Step, Value};

#[derive(Clone, Default)]
struct Output(Rc<RefCell<Vec<u8>>>);

impl Host for Output {
    fn write(&mut self, bytes: &[u8]) {
        self.0.borrow_mut().extend_from_slice(bytes);
    }
    fn warn(&mut self, _: &[u8]) {}
    fn clock(&mut self) -> f64 {
        0.0
    }
    fn time(&mut self) -> i64 {
        0
    }
    fn random_seed(&mut self) -> u64 {
        7
    }
}

fn state(config: Config) -> (Lua, Output) {
    let out = Output::default();
    let lua = Lua::with_config(Box::new(out.clone()), config);
    lua.enter(stdlib::open);
    (lua, out)
}

fn limited(bytes: usize) -> (Lua, Output) {
    state(Config {
        memory_limit: Some(bytes),
        ..Config::default()
    })
}

/// Runs `source` to the end: what it printed, or the error message.
fn run(lua: &mut Lua, out: &Output, source: &str) -> Result<String, String> {
    out.0.borrow_mut().clear();
    lua.start_chunk(source.as_bytes(), b"=test", &[])
        .map_err(|e| String::from_utf8_lossy(&e.message).into_owned())?;
    match lua.run() {
        Step::Done => Ok(String::from_utf8_lossy(&out.0.borrow()).into_owned()),
        Step::Error(e) => Err(e.message),
        other => Err(format!("{other:?}")),
    }
}

const MIB: usize = 1 << 20;

#[test]
fn growing_a_table_past_the_limit_is_not_enough_memory() {
    let (mut lua, out) = limited(16 * MIB);
    let e = run(
        &mut lua,
        &out,
        "local t = {} for i = 1, 1e8 do t[i] = i end",
    )
    .unwrap_err();
    assert_eq!(e, "not enough memory");
    assert!(
        lua.memory_used() < 24 * MIB,
        "{} bytes in use",
        lua.memory_used()
    );
    // The state stays usable once the data is gone.
    assert_eq!(run(&mut lua, &out, "print(1 + 1)").unwrap(), "2\n");
}

#[test]
fn pcall_catches_the_memory_error() {
    let (mut lua, out) = limited(16 * MIB);
    let source = "
        local ok, e = pcall(function() local s = 'x' while true do s = s .. s end end)
        print(ok, e)
        local ok2, e2 = pcall(string.rep, 'x', 64 * 1024 * 1024)
        print(ok2, e2)
        local t = {}
        local ok3, e3 = pcall(function() for i = 1, 1e8 do t[i] = {} end end)
        t = nil
        print(ok3, e3)";
    assert_eq!(
        run(&mut lua, &out, source).unwrap(),
        "false\tnot enough memory\nfalse\tnot enough memory\nfalse\tnot enough memory\n"
    );
}

/// Data-driven growth that passes a 16 MiB cap (issue 14 item 2): each is checked before it
/// allocates, so it ends in a memory error `pcall` catches, within the cap.
const PAST_THE_CAP: [&str; 7] = [
    "local t = {} for i = 1, 200 do t[i] = string.rep('x', 16e6 - 1) .. i end",
    "local s = 'x' while true do s = s .. s end",
    "local t = {} for i = 1, 1e8 do t[#t + 1] = i end",
    "local t = {} for i = 1, 1e8 do t['k' .. i] = i end",
    "local t = {} for i = 1, 9e5 do t[i] = i end
     local all = {} for i = 1, 100 do all[i] = {table.unpack(t)} end",
    "local f, e = load('return {' .. string.rep('1,', 3e6) .. '}') if not f then error(e, 0) end
     local t = f()",
    "local t = {1} for i = 1, 40 do table.move(t, 1, #t, #t + 1) end",
];

#[test]
fn growth_past_the_cap_is_a_catchable_memory_error_within_the_cap() {
    for source in PAST_THE_CAP {
        let (mut lua, out) = limited(16 * MIB);
        let wrapped = format!("print(pcall(function() {source} end))");
        assert_eq!(
            run(&mut lua, &out, &wrapped).unwrap(),
            "false\tnot enough memory\n",
            "{source}"
        );
        assert!(
            lua.memory_used() <= 16 * MIB,
            "{source}: {} bytes in use",
            lua.memory_used()
        );
        assert_eq!(
            run(&mut lua, &out, "print(1 + 1)").unwrap(),
            "2\n",
            "{source}"
        );
        // Uncaught, it ends the run the same way.
        assert_eq!(
            run(&mut lua, &out, source).unwrap_err(),
            "not enough memory"
        );
    }
}

#[test]
fn writes_that_need_no_room_still_work_at_the_cap() {
    let (mut lua, out) = limited(16 * MIB);
    let printed = run(
        &mut lua,
        &out,
        "local t = {} local ok = pcall(function() for i = 1, 1e8 do t[i] = i end end)
         local n = #t
         t[1], t[n] = 'a', 'b'
         t = nil
         collectgarbage()
         print(ok, n > 1e5)",
    );
    assert_eq!(printed.unwrap(), "false\ttrue\n");
}

#[test]
fn without_a_limit_the_same_code_runs() {
    let (mut lua, out) = state(Config::default());
    let printed = run(
        &mut lua,
        &out,
        "local t = {} for i = 1, 1e6 do t[i] = i end print(#t)",
    );
    assert_eq!(printed.unwrap(), "1000000\n");
}

/// A queue: appended at the tail, deleted at the head, never more than `window` items.
fn queue(items: u32, window: u32) -> String {
    format!(
        "q = {{}} local head, tail = 1, 1
         for i = 1, {items} do
           q[tail] = i tail = tail + 1
           if tail - head > {window} then q[head] = nil head = head + 1 end
         end
         collectgarbage()
         print(#q >= 0, q[head], q[tail - 1])"
    )
}

#[test]
fn a_table_used_as_a_queue_does_not_grow_forever() {
    for window in [1, 10, 1000] {
        let (mut lua, out) = state(Config::default());
        let printed = run(&mut lua, &out, &queue(1_000_000, window)).unwrap();
        assert_eq!(printed, format!("true\t{}\t1000000\n", 1_000_001 - window));
        // The queue is still alive: its table holds the window, not the million keys.
        assert!(
            lua.memory_used() < MIB,
            "window {window}: {} bytes in use",
            lua.memory_used()
        );
    }
}

#[test]
fn a_queue_runs_within_a_small_memory_limit() {
    let (mut lua, out) = limited(4 * MIB);
    let printed = run(&mut lua, &out, &queue(1_000_000, 100)).unwrap();
    assert_eq!(printed, "true\t999901\t1000000\n");
}

#[test]
fn a_run_stops_after_its_fuel_and_resumes_where_it_was() {
    let (mut lua, out) = state(Config::default());
    lua.start_chunk(
        b"local s = 0 for i = 1, 1e6 do s = s + i end print(s)",
        b"=fuel",
        &[],
    )
    .unwrap();
    let mut slices = 0;
    loop {
        match lua.step(1000) {
            Step::Pending => slices += 1,
            Step::Done => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(slices > 100, "{slices} slices");
    assert_eq!(String::from_utf8_lossy(&out.0.borrow()), "500000500000\n");
}

#[test]
fn deep_recursion_is_a_stack_overflow_not_a_crash() {
    let (mut lua, out) = state(Config {
        max_stack: 10_000,
        ..Config::default()
    });
    let e = run(
        &mut lua,
        &out,
        "local function f(n) return 1 + f(n + 1) end f(1)",
    )
    .unwrap_err();
    assert!(e.ends_with("stack overflow"), "{e}");
    let printed = run(
        &mut lua,
        &out,
        "local function f(n) return 1 + f(n + 1) end print(pcall(f, 1))",
    );
    assert!(printed.unwrap().contains("stack overflow"));
}

#[test]
fn results_come_out_of_the_arena() {
    let (mut lua, _) = state(Config::default());
    lua.start_chunk(b"return 1, 'two', 3.5", b"=results", &[])
        .unwrap();
    assert!(matches!(lua.run(), Step::Done));
    let seen = lua.results(|_, values| {
        values
            .iter()
            .map(|v| match v {
                Value::Integer(i) => format!("{i}"),
                Value::String(s) => s.to_str_lossy().into_owned(),
                Value::Float(f) => format!("{f}"),
                _ => String::from("?"),
            })
            .collect::<Vec<_>>()
    });
    assert_eq!(seen, ["1", "two", "3.5"]);
}

/// Library calls that take seconds inside one native call (before they could pause), each
/// after the setup it needs.
const LONG_LIBRARY_CALLS: [(&str, &str); 6] = [
    (
        "",
        "string.find(string.rep('a', 26), string.rep('a?', 26) .. string.rep('a', 26))",
    ),
    (
        "",
        "string.match(string.rep('a', 26), string.rep('a?', 26) .. string.rep('a', 26))",
    ),
    (
        "",
        "string.gsub(string.rep('a', 26), string.rep('a?', 26) .. string.rep('a', 26), '')",
    ),
    (
        "",
        "for _ in string.gmatch(string.rep('a', 26), string.rep('a?', 26) .. 'b') do end",
    ),
    (
        "t = {} for i = 1, 2e6 do t[i] = (i * 7919) % 2e6 end",
        "table.sort(t)",
    ),
    ("t = {} for i = 1, 3e6 do t[i] = 'x' end", "table.concat(t)"),
];

/// Each of them pauses again and again: a slice of fuel ends inside the call (it would
/// otherwise run for seconds and end in one slice).
#[test]
fn long_library_calls_stop_after_their_fuel() {
    for (setup, source) in LONG_LIBRARY_CALLS {
        let (mut lua, out) = state(Config::default());
        run(&mut lua, &out, setup).unwrap();
        lua.start_chunk(source.as_bytes(), b"=test", &[]).unwrap();
        for _ in 0..100 {
            assert!(matches!(lua.step(10_000), Step::Pending), "{source}");
        }
    }
}

#[test]
fn paused_matches_give_lua5_4_s_results() {
    let (mut lua, out) = state(Config::default());
    lua.start_chunk(
        b"print(string.find(string.rep('a', 20), string.rep('a?', 20) .. string.rep('a', 20)))
          print(string.gsub(string.rep('ab', 5000), '(a)(b)', '%2%1'):sub(1, 6))
          local n = 0 for a, b in string.gmatch(string.rep('xy', 9000), '(x)()') do n = n + b end
          print(n, string.match(string.rep('a', 9000) .. 'b', '()(a-)b$'))",
        b"=test",
        &[],
    )
    .unwrap();
    let mut slices = 0;
    loop {
        match lua.step(500) {
            Step::Pending => slices += 1,
            Step::Done => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(slices > 1000, "{slices} slices");
    let printed = String::from_utf8_lossy(&out.0.borrow()).into_owned();
    let n: u64 = (0..9000u64).map(|i| 2 * i + 2).sum();
    assert_eq!(
        printed,
        format!("1\t20\nbababa\n{n}\t1\t{}\n", "a".repeat(9000))
    );
}

#[test]
fn the_string_length_limit_holds_for_short_strings_too() {
    let (mut lua, out) = state(Config {
        max_string: 6,
        ..Config::default()
    });
    assert_eq!(
        run(&mut lua, &out, "print('k' .. 12345)"),
        Ok("k12345\n".into())
    );
    for source in [
        "return 'k' .. 123456",
        "return 'abc' .. 'defg'",
        "return 1.5 .. 'abcd'",
    ] {
        let e = run(&mut lua, &out, source).unwrap_err();
        assert!(e.contains("string length overflow"), "{source}: {e}");
    }
}
