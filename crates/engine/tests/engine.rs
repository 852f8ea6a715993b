//! Engine behaviour through its public API with an in-memory host. The same tests run
//! natively (`cargo test`) and on wasm32 in Node (`wasm-bindgen-test`, see the Makefile).

use std::rc::Rc;

use lua_persist_engine::codec::{Item, Reader, Writer};
use lua_persist_engine::{Engine, ErrorKind, Host, HostError, Limits, MemoryHost, Step};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn engine() -> (Engine, Rc<MemoryHost>) {
    let host = Rc::new(MemoryHost::default());
    (Engine::new(host.clone()), host)
}

/// Decoded scalar results, tables as their debug text.
#[derive(Debug, PartialEq)]
enum V {
    Nil,
    B(bool),
    I(i64),
    F(f64),
    S(String),
    Ref(u32),
    Table(Vec<(V, V)>),
    Opaque(String),
    Handle(u32),
}

fn read(r: &mut Reader) -> V {
    match r.item().unwrap() {
        Item::Nil => V::Nil,
        Item::Boolean(b) => V::B(b),
        Item::Integer(i) => V::I(i),
        Item::Float(f) => V::F(f),
        Item::String(s) => V::S(String::from_utf8_lossy(s).into_owned()),
        Item::TableRef(id) => V::Ref(id),
        Item::InlineTable(n) => V::Table((0..n).map(|_| (read(r), read(r))).collect()),
        Item::Opaque(t) | Item::Function(t) => V::Opaque(String::from_utf8_lossy(t).into()),
        Item::Handle(h) | Item::HostFunction(h) | Item::HostObject(h) => V::Handle(h),
    }
}

fn run(e: &mut Engine, code: &str) -> Vec<V> {
    let bytes = e
        .compute("=test", code.as_bytes())
        .unwrap_or_else(|f| panic!("{code}: {f:?}"));
    let mut r = Reader::new(&bytes);
    let n = r.u32().unwrap();
    let out = (0..n).map(|_| read(&mut r)).collect();
    assert!(r.is_empty());
    out
}

fn fail(e: &mut Engine, code: &str) -> (ErrorKind, String) {
    let f = e.compute("=test", code.as_bytes()).unwrap_err();
    (f.kind, f.message)
}

fn s(x: &str) -> V {
    V::S(x.into())
}

#[test]
fn returns_every_value_and_inline_tables() {
    let (mut e, _) = engine();
    assert_eq!(
        run(&mut e, "return 1, 2.5, 'x', nil, true"),
        vec![V::I(1), V::F(2.5), s("x"), V::Nil, V::B(true)]
    );
    assert_eq!(
        run(&mut e, "return {10, 20}"),
        vec![V::Table(vec![(V::I(1), V::I(10)), (V::I(2), V::I(20))])]
    );
    assert_eq!(
        run(&mut e, "return print"),
        vec![V::Opaque("function".into())]
    );
    assert_eq!(run(&mut e, "return _home"), vec![V::Ref(1)]);
}

#[test]
fn cyclic_results_are_refused_and_the_engine_goes_on() {
    let (mut e, _) = engine();
    let (kind, msg) = fail(&mut e, "local t = {} t.t = t return t");
    assert_eq!(kind, ErrorKind::Runtime);
    assert!(msg.contains("itself"), "{msg}");
    assert_eq!(run(&mut e, "return 1"), vec![V::I(1)]);
}

#[test]
fn home_and_memory_are_one_external_table() {
    let (mut e, host) = engine();
    assert_eq!(
        run(
            &mut e,
            "_home.test = 123 return Memory.test, _home == Memory, type(_home)"
        ),
        vec![V::I(123), V::B(true), s("table")]
    );
    assert_eq!(
        host.string_keys(e.memory_table_id()),
        vec![b"test".to_vec()]
    );
    assert_eq!(
        run(&mut e, "return getmetatable(_home)"),
        vec![s("external table")]
    );
}

#[test]
fn keys_keep_their_lua_types() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local t = ext.table()
         t[1] = 'int'; t['1'] = 'str'; t[2.0] = 'two'; t[true] = 'yes'; t[1.5] = 'half'
         return t[1], t['1'], t[2], t[true], t[1.5], ext.size(t), t[nil], t[0/0]",
    );
    assert_eq!(
        got,
        vec![
            s("int"),
            s("str"),
            s("two"),
            s("yes"),
            s("half"),
            V::I(5),
            V::Nil,
            V::Nil
        ]
    );
    let (kind, msg) = fail(&mut e, "_home[nil] = 1");
    assert_eq!(
        (kind, msg.as_str()),
        (ErrorKind::Runtime, "test:1: table index is nil")
    );
    let (_, msg) = fail(&mut e, "_home[0/0] = 1");
    assert!(msg.ends_with("index is NaN"), "{msg}");
}

#[test]
fn assigning_nil_deletes() {
    let (mut e, host) = engine();
    run(&mut e, "_home.a = 1 _home.b = 2 _home.a = nil");
    assert_eq!(host.string_keys(1), vec![b"b".to_vec()]);
    assert_eq!(
        run(&mut e, "return _home.a, ext.size(_home)"),
        vec![V::Nil, V::I(1)]
    );
}

#[test]
fn plain_tables_are_stored_by_reference() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local t = {x = 1, inner = {y = 2}}
         _home.a = t; _home.b = t
         _home.a.x = 10
         local c = {}; c.self = c; _home.c = c
         return _home.a == _home.b, _home.b.x, _home.a.inner.y, t == _home.a,
                _home.c.self == _home.c, _home.a == _home.a",
    );
    assert_eq!(
        got,
        vec![
            V::B(true),
            V::I(10),
            V::I(2),
            V::B(true),
            V::B(true),
            V::B(true)
        ]
    );
}

#[test]
fn refused_values_change_nothing() {
    let (mut e, host) = engine();
    for (code, msg) in [
        ("_home.c = coroutine.create(print)", "cannot store a coroutine in an external table"),
        (
            "local co = coroutine.create(print) _home.t = {ok = 1, nested = {f = function() return co end}}",
            "cannot store a function with a coroutine upvalue",
        ),
        (
            "_home.f = string.gmatch('a', 'a')",
            "cannot store a builtin function that has no global name",
        ),
    ] {
        let (kind, got) = fail(&mut e, code);
        assert_eq!(kind, ErrorKind::Runtime);
        assert_eq!(got, format!("test:1: {msg}"));
    }
    assert!(host.string_keys(1).is_empty());
    assert_eq!(e.next_table_id(), 2, "no table ids were spent");
    let (_, msg) = fail(&mut e, "_home.m = setmetatable({}, {})");
    assert!(msg.contains("metatable"), "{msg}");
    assert_eq!(
        run(
            &mut e,
            "return pcall(function() _home.f = coroutine.create(print) end)"
        )[0],
        V::B(false)
    );
}

#[test]
fn length_ipairs_and_pairs_page_through_the_host() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local t = ext.table()
         for i = 1, 100 do t[#t + 1] = i * 2 end
         local n1 = #t
         t[100] = nil
         local n2 = #t
         local sum = 0
         for _, v in ipairs(t) do sum = sum + v end
         local count, keys = 0, 0
         for k, v in pairs(t) do count = count + 1 keys = keys + k end
         return n1, n2, sum, count, keys",
    );
    assert_eq!(
        got,
        vec![V::I(100), V::I(99), V::I(9900), V::I(99), V::I(4950)]
    );
}

#[test]
fn pairs_sees_deletions_made_during_traversal() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local t = ext.table()
         for i = 1, 50 do t['k' .. i] = i end
         local seen = 0
         for k, v in pairs(t) do
           seen = seen + 1
           t['k' .. (51 - v)] = nil
         end
         return seen, ext.size(t)",
    );
    assert_eq!(got, vec![V::I(25), V::I(25)]);
}

#[test]
fn next_goes_on_from_any_key_and_traversals_interleave() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local t = ext.table()
         for i = 1, 40 do t['k' .. i] = i end
         local order = {}
         for k in pairs(t) do order[#order + 1] = k end
         for i = #order - 1, 1, -1 do assert(next(t, order[i]) == order[i + 1]) end
         t.k3 = nil
         local after_deleted = next(t, 'k3')
         local nested = 0
         for a in pairs(t) do for b in pairs(t) do nested = nested + 1 end end
         return after_deleted, nested, pcall(next, t, 'never')",
    );
    assert_eq!(
        got,
        vec![
            s("k4"),
            V::I(39 * 39),
            V::B(false),
            s("invalid key to 'next'")
        ]
    );
}

#[test]
fn any_bytes_round_trip() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local s = ''
         for i = 0, 255 do s = s .. string.char(i) end
         s = string.rep(s, 4096)
         _home[s] = s
         return #_home[s], _home[s] == s",
    );
    assert_eq!(got, vec![V::I(1024 * 1024), V::B(true)]);
}

#[test]
fn errors_carry_kind_chunk_and_line() {
    let (mut e, _) = engine();
    let (kind, msg) = fail(&mut e, "local x = 1\nerror('boom')");
    assert_eq!((kind, msg.as_str()), (ErrorKind::Runtime, "test:2: boom"));
    let (kind, msg) = fail(&mut e, "x = = 1");
    assert_eq!(kind, ErrorKind::Syntax);
    assert!(msg.starts_with("test:1:"), "{msg}");
    let (kind, _) = fail(
        &mut e,
        &format!("return {}1{}", "(".repeat(300), ")".repeat(300)),
    );
    assert_eq!(kind, ErrorKind::Syntax);
    let (kind, msg) = fail(&mut e, "local x\nreturn x.y");
    assert_eq!(
        (kind, msg.as_str()),
        (
            ErrorKind::Runtime,
            "test:2: attempt to index a nil value (local 'x')"
        )
    );
    let (_, msg) = fail(&mut e, "local f\nf()");
    assert_eq!(msg, "test:2: attempt to call a nil value (local 'f')");
    assert_eq!(
        run(&mut e, "return pcall(error, 'caught')"),
        vec![V::B(false), s("caught")]
    );
}

#[test]
fn chunk_names_follow_lua() {
    use lua_persist_engine::display_chunk_name;
    assert_eq!(display_chunk_name(b"=input"), "input");
    assert_eq!(display_chunk_name(b"@script.lua"), "script.lua");
    assert_eq!(display_chunk_name(b"return 1"), "[string \"return 1\"]");
    assert_eq!(display_chunk_name(b"a\nb"), "[string \"a...\"]");
}

#[test]
fn instruction_limit_stops_a_run_and_the_engine_goes_on() {
    let (mut e, _) = engine();
    e.set_limits(Limits {
        instructions: 100_000,
        ..Limits::default()
    });
    let (kind, _) = fail(&mut e, "while true do end");
    assert_eq!(kind, ErrorKind::InstructionLimit);
    assert_eq!(run(&mut e, "return 2 + 2"), vec![V::I(4)]);
}

#[test]
fn heap_limit_stops_a_run_and_memory_comes_back() {
    let (mut e, _) = engine();
    e.set_limits(Limits {
        heap_bytes: 8 * 1024 * 1024,
        ..Limits::default()
    });
    let (kind, message) = fail(&mut e, "local t = {} for i = 1, 1e7 do t[i] = i end");
    assert_eq!(kind, ErrorKind::MemoryLimit);
    // Collected already: what the message calls live is what is left.
    assert!(e.heap_bytes() < 1024 * 1024, "heap {}", e.heap_bytes());
    assert!(
        message.starts_with("not enough memory (0.")
            && message.ends_with(" MiB live after a full collection; limit 8.0 MiB)"),
        "{message}"
    );
    assert_eq!(run(&mut e, "return 'still here'"), vec![s("still here")]);
    // Data a script keeps counts as live: 3 MiB, plus the state's own few tens of KiB and
    // the interner's table (whose size depends on the pointer width).
    let (_, message) = fail(
        &mut e,
        "keep = string.rep('x', 3 << 20) local t = {} for i = 1, 1e7 do t[i] = i end",
    );
    let live = message
        .strip_prefix("not enough memory (")
        .and_then(|m| m.split(' ').next())
        .and_then(|n| n.parse::<f64>().ok());
    assert!(
        live.is_some_and(|l| (3.0..=3.2).contains(&l)) && message.contains(" MiB live"),
        "{message}"
    );
    assert_eq!(run(&mut e, "return #keep"), vec![V::I(3 << 20)]);
}

#[test]
fn garbage_heavy_loops_stay_small() {
    let (mut e, _) = engine();
    run(&mut e, "local s = '' for i = 1, 20000 do s = s .. 'x' end");
    assert!(
        e.peak_heap_bytes() < 4 * 1024 * 1024,
        "peak heap {}",
        e.peak_heap_bytes()
    );
}

#[test]
fn sliced_runs_finish_with_the_same_result() {
    let (mut e, _) = engine();
    e.start(
        "=slices",
        b"local n = 0 for i = 1, 100000 do n = n + i end return n",
    )
    .unwrap();
    let mut slices = 0;
    let result = loop {
        match e.resume(1000) {
            Step::Pending => slices += 1,
            Step::Finished(r) => break r.unwrap(),
            Step::Waiting(_) => unreachable!("no host function is called"),
        }
    };
    assert!(slices > 10, "ran in {slices} slices");
    let mut r = Reader::new(&result);
    assert_eq!(r.u32().unwrap(), 1);
    assert_eq!(read(&mut r), V::I(5_000_050_000));
}

#[test]
fn print_goes_to_the_host() {
    let (mut e, host) = engine();
    run(&mut e, "print('a', 1, nil, true) print()");
    assert_eq!(host.take_output(), b"a\t1\tnil\ttrue\n\n");
}

#[test]
fn host_table_api_validates_everything() {
    let (mut e, _) = engine();
    let mut key = Vec::new();
    Writer(&mut key).string(b"k");
    let mut value = Vec::new();
    Writer(&mut value).integer(7);
    e.table_set(1, &key, &value).unwrap();
    assert_eq!(e.table_get(1, &key).unwrap(), Some(value.clone()));
    assert_eq!(run(&mut e, "return _home.k"), vec![V::I(7)]);
    let bad = ErrorKind::BadInput;
    assert_eq!(e.table_set(99, &key, &value).unwrap_err().kind, bad);
    assert_eq!(
        e.table_set(1, &[0x04, 9, 0, 0, 0, b'x'], &value)
            .unwrap_err()
            .kind,
        bad
    );
    assert_eq!(e.table_set(1, &key, &[0x09]).unwrap_err().kind, bad);
    assert_eq!(
        e.table_set(1, &key, &[0x07, 50, 0, 0, 0]).unwrap_err().kind,
        bad
    );
    assert_eq!(e.table_set(1, &[0x00], &value).unwrap_err().kind, bad);
    let id = e.table_new().unwrap();
    assert_eq!(e.table_size(id).unwrap(), 0);
    e.attach_memory_table(40).unwrap();
    assert_eq!(e.next_table_id(), 41);
    assert_eq!(
        run(&mut e, "_home.x = 1 return ext.id(_home), ext.id(Memory)"),
        vec![V::I(40), V::I(40)]
    );
}

/// A host whose stored bytes have been damaged.
struct DamagedHost {
    inner: MemoryHost,
    reply: Vec<u8>,
}

impl Host for DamagedHost {
    fn table_set(&self, id: u32, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        self.inner.table_set(id, key, value)
    }
    fn table_get(&self, _: u32, _: &[u8], out: &mut Vec<u8>) -> Result<bool, HostError> {
        out.clear();
        out.extend_from_slice(&self.reply);
        Ok(true)
    }
    fn table_delete(&self, id: u32, key: &[u8]) -> Result<(), HostError> {
        self.inner.table_delete(id, key)
    }
    fn table_size(&self, id: u32) -> Result<u32, HostError> {
        self.inner.table_size(id)
    }
    fn table_page(
        &self,
        _: u32,
        after: &[u8],
        _: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, HostError> {
        out.clear();
        if after.is_empty() {
            out.extend_from_slice(&self.reply);
        }
        Ok(true)
    }
    fn table_keys(&self, id: u32, out: &mut Vec<u8>) -> Result<(), HostError> {
        self.inner.table_keys(id, out)
    }
    fn write_output(&self, bytes: &[u8]) {
        self.inner.write_output(bytes)
    }
    fn now_ms(&self) -> f64 {
        0.0
    }
    fn clock_ms(&self) -> f64 {
        0.0
    }
    fn fill_random(&self, buf: &mut [u8]) {
        self.inner.fill_random(buf)
    }
}

#[test]
fn damaged_host_bytes_are_kind_five_never_a_panic() {
    // (An empty page is a legitimate end of iteration, so empty replies are not listed.)
    let replies: Vec<Vec<u8>> = vec![
        vec![0x02, 1, 2],
        vec![0x04, 0xff, 0xff, 0xff, 0x7f, b'a'],
        vec![0x63],
        vec![0x07, 0xee, 0, 0, 0],
        vec![0x08, 0, 0, 0, 0],
        vec![0x01, 7],
        vec![0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0xaa],
    ];
    for reply in replies {
        let host = Rc::new(DamagedHost {
            inner: MemoryHost::default(),
            reply: reply.clone(),
        });
        let mut e = Engine::new(host);
        for code in ["return _home.x", "for k, v in pairs(_home) do end"] {
            let f = e.compute("=t", code.as_bytes()).unwrap_err();
            assert_eq!(
                f.kind,
                ErrorKind::BadInput,
                "{reply:?} {code}: {}",
                f.message
            );
        }
        let ok = e.compute("=t", b"return 1 + 1");
        assert!(ok.is_ok(), "engine unusable after {reply:?}");
    }
}

#[test]
fn randomized_garbage_from_the_host_never_breaks_the_engine() {
    let mut seed: u64 = 0x1234_5678_9abc_def1;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let len = (next() % 16) as usize;
        let mut reply: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(first) = reply.first_mut() {
            *first %= 10;
        }
        let host = Rc::new(DamagedHost {
            inner: MemoryHost::default(),
            reply,
        });
        let mut e = Engine::new(host);
        let _ = e.compute(
            "=t",
            b"local v = _home.x for k, v in pairs(_home) do end return v",
        );
        assert!(e.compute("=t", b"return 1").is_ok());
    }
}

#[test]
fn functions_are_stored_with_upvalues_captured_by_value() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "function _home.calc(x) return x * 2 end
         local n = 10
         _home.f = function() return n end
         n = 20
         _home.cfg = {x = 1}
         local cfg = _home.cfg
         _home.g = function() return cfg.x end
         _home.cfg.x = 5
         local function fact(k) if k <= 1 then return 1 end return k * fact(k - 1) end
         _home.fact = fact
         _home.p = print
         _home.fmt = string.format
         local helper = function(s) return s .. '!' end
         _home.shout = function(s) return helper(string.upper(s)) end
         return _home.calc(21), _home.f(), _home.g(), _home.fact(5), _home.p == print,
                _home.fmt('%d-%s', 3, 'x'), _home.shout('hi'), type(_home.calc)",
    );
    assert_eq!(
        got,
        vec![
            V::I(42),
            V::I(10),
            V::I(5),
            V::I(120),
            V::B(true),
            s("3-x"),
            s("HI!"),
            s("function")
        ]
    );
}

#[test]
fn stored_functions_work_in_another_engine_with_the_same_tables() {
    let host = Rc::new(MemoryHost::default());
    let mut first = Engine::new(host.clone());
    run(
        &mut first,
        "local greeting = 'hello'
         _home.data = {count = 3}
         local data = _home.data
         function _home.greet(name) return greeting .. ', ' .. name .. ' #' .. data.count end
         _home.show = print",
    );
    let (home, next) = (first.memory_table_id(), first.next_table_id());
    drop(first);
    let mut second = Engine::new(host.clone());
    second.sync_table_counter(next);
    second.attach_memory_table(home).unwrap();
    let got = run(
        &mut second,
        "greeting = 'ignored' _home.data.count = 4 _home.show('printed') return _home.greet('ada')",
    );
    assert_eq!(got, vec![s("hello, ada #4")]);
    assert_eq!(host.take_output(), b"printed\n");
}

#[test]
fn string_dump_and_binary_load() {
    let (mut e, _) = engine();
    let src = "local f = function(a, b, ...) return a + b, ... end
               local bin = string.dump(f)
               return #bin > 0, string.byte(bin, 1), load(bin)";
    let got = run(&mut e, src);
    assert_eq!(got[0..2], [V::B(true), V::I(27)]);
    assert_eq!(
        got[2..],
        [V::Nil, s("binary chunks are disabled by the host")]
    );
    e.set_binary_chunks(true);
    let got = run(
        &mut e,
        "local bin = string.dump(function(a, b) return a * b end, true)
         local g = assert(load(bin, 'dumped', 'b'))
         local _, err = load(bin, 'dumped', 't')
         return g(6, 7), err, load(string.sub(bin, 1, 10))",
    );
    assert_eq!(got[0], V::I(42));
    assert_eq!(got[1], s("attempt to load a binary chunk (mode is 't')"));
    assert_eq!(got[2], V::Nil);
    assert!(matches!(&got[3], V::S(m) if !m.is_empty()), "{got:?}");
    let (_, msg) = fail(&mut e, "string.dump(print)");
    assert!(msg.contains("unable to dump given function"), "{msg}");
}

#[test]
fn mutated_binary_chunks_never_break_the_engine() {
    let (mut e, _) = engine();
    e.set_binary_chunks(true);
    // A mutated jump can loop forever: the instruction limit ends those runs.
    e.set_limits(Limits {
        instructions: 1_000_000,
        ..Limits::default()
    });
    let dumped = run(
        &mut e,
        "return string.dump(function(t) local s = 0 for i, v in ipairs(t) do s = s + v end return s end)",
    );
    let V::S(_) = &dumped[0] else {
        panic!("{dumped:?}")
    };
    let mut bin = Vec::new();
    let bytes = e.compute("=t", b"return string.dump(function(t) local s = 0 for i, v in ipairs(t) do s = s + v end return s end)").unwrap();
    let mut r = Reader::new(&bytes);
    r.u32().unwrap();
    if let Item::String(b) = r.item().unwrap() {
        bin.extend_from_slice(b);
    }
    let mut seed: u64 = 0x5eed;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut key = Vec::new();
    Writer(&mut key).string(b"m");
    let (mut loaded, mut ran) = (0, 0);
    for _ in 0..2000 {
        let mut m = bin.clone();
        for _ in 0..1 + next() % 3 {
            let pos = (next() as usize) % m.len();
            m[pos] = next() as u8;
        }
        let mut value = Vec::new();
        Writer(&mut value).string(&m);
        e.table_set(1, &key, &value).unwrap();
        match e.compute(
            "=t",
            b"local f = load(_home.m, 'm', 'b') if not f then return false end return true, pcall(f, {1, 2, 3})",
        ) {
            Ok(out) => {
                let mut r = Reader::new(&out);
                r.u32().unwrap();
                if r.item().unwrap() == Item::Boolean(true) {
                    loaded += 1;
                    ran += 1;
                }
            }
            Err(f) => {
                assert!(
                    matches!(f.kind, ErrorKind::InstructionLimit | ErrorKind::Runtime),
                    "{f:?}"
                );
                loaded += 1;
            }
        }
        assert_eq!(run(&mut e, "return 1"), vec![V::I(1)]);
    }
    assert!(loaded > 0 && ran > 0, "loaded {loaded}, ran {ran}");
}

#[test]
fn tail_calls_with_missing_arguments_work_and_stay_proper() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local function g(a, b, c) return a, b, c end
         local function f() return g(1) end
         local function forward(...) return g(...) end
         local function loop(n) if n == 0 then return 'done' end return loop(n - 1) end
         local a, b, c = forward(7)
         return f(), a, loop(1000000), select('#', forward(1, 2))",
    );
    assert_eq!(got, vec![V::I(1), V::I(7), s("done"), V::I(3)]);
    assert!(
        e.peak_heap_bytes() < 4 * 1024 * 1024,
        "tail calls reuse their frame"
    );
}

#[test]
fn method_calls_work_on_strings_tables_and_stored_functions() {
    let (mut e, _) = engine();
    let got = run(
        &mut e,
        "local s = 'Hello'
         local C = {} C.__index = C
         function C:name() return self.n end
         local o = setmetatable({n = 'obj'}, C)
         _home.shout = function(x) return x:upper() .. ('!'):rep(2) end
         local ok, err = pcall(function() local v = s:missing() return v end)
         return s:lower(), ('%d'):format(7), o:name(), _home.shout('hi'), (s:find('l')), ok",
    );
    assert_eq!(
        got,
        vec![
            s("hello"),
            s("7"),
            s("obj"),
            s("HI!!"),
            V::I(3),
            V::B(false)
        ]
    );
}

#[test]
fn length_of_an_external_table_always_ends() {
    let (mut e, _) = engine();
    let out = run(
        &mut e,
        "local t = ext.table() local k = 1
         while k > 0 do t[k] = true k = k * 2 end
         t[math.maxinteger] = true t[math.mininteger] = true
         local a, b = #t, #t
         t[math.maxinteger] = nil
         return a, b, t[#t] ~= nil and t[#t + 1] == nil",
    );
    assert_eq!(out, vec![V::I(i64::MAX), V::I(i64::MAX), V::B(true)]);
}

#[test]
fn host_calls_made_by_one_operation_count_against_the_budget() {
    let (mut e, _) = engine();
    e.set_limits(Limits {
        instructions: 400_000,
        ..Limits::default()
    });
    let build = "local t = {} for i = 1, 30000 do t[i] = true end ";
    let after = " for i = 1, 100000 do end return 1";
    // The same instructions pass without the 30,000 host writes of storing `t`.
    assert_eq!(run(&mut e, &format!("{build}{after}")), vec![V::I(1)]);
    let (kind, _) = fail(&mut e, &format!("{build} _home.t = t {after}"));
    assert_eq!(kind, ErrorKind::InstructionLimit);
}

#[test]
fn the_state_and_its_libraries_cannot_be_stored() {
    let (mut e, host) = engine();
    run(
        &mut e,
        "_home.keep = 1 local env = _ENV local t = {} t.os = os _home.t2 = {}",
    );
    for (code, name) in [
        ("_home.g = _G", "_G"),
        ("_home.g = _ENV", "_G"),
        ("_home.s = string", "string"),
        ("_home.m = math", "math"),
        ("_home.e = ext", "ext"),
        ("ext.table(os)", "os"),
        ("_home.n = {inner = {lib = table}}", "table"),
        ("_home[coroutine] = 1", "coroutine"),
        ("local s = string function _home.f() return s end", "string"),
    ] {
        let before = contents(&host);
        let (kind, msg) = fail(&mut e, code);
        assert_eq!(kind, ErrorKind::Runtime, "{code}");
        let what = match name {
            "_G" => "the globals table".to_string(),
            lib => format!("the library table '{lib}'"),
        };
        assert!(
            msg.contains(&format!("cannot store {what} in an external table")),
            "{code}: {msg}"
        );
        assert_eq!(contents(&host), before, "{code} changed the host");
        assert_eq!(
            run(
                &mut e,
                "return string.format('%d', _home.keep), math.abs(-2), type(print)"
            ),
            vec![s("1"), V::I(2), s("function")],
            "after {code}"
        );
    }
    // Functions still reach the globals of the state that loads them.
    run(&mut e, "function _home.f() return string.upper('ok') end");
    assert_eq!(run(&mut e, "return _home.f()"), vec![s("OK")]);
}

#[test]
fn home_cannot_be_detached() {
    let (mut e, host) = engine();
    run(&mut e, "_home.a = 1");
    for code in [
        "_home = {}",
        "_home = nil",
        "Memory = {}",
        "Memory = ext.table()",
    ] {
        let (kind, msg) = fail(&mut e, code);
        assert_eq!(kind, ErrorKind::Runtime, "{code}");
        assert!(msg.contains("it is the persistent table"), "{code}: {msg}");
    }
    // Assigning the persistent table itself is harmless (`_home = _home or {}`).
    run(&mut e, "_home = _home or {} Memory = _home _home.b = 2");
    assert_eq!(
        run(&mut e, "return _home.a, Memory.b, _home == Memory, x"),
        vec![V::I(1), V::I(2), V::B(true), V::Nil]
    );
    // Other globals are unaffected; the globals' metatable cannot be replaced.
    run(&mut e, "x = 5 x = nil y = 6");
    assert_eq!(run(&mut e, "return x, y"), vec![V::Nil, V::I(6)]);
    let (_, msg) = fail(&mut e, "setmetatable(_G, nil)");
    assert!(msg.contains("protected metatable"), "{msg}");
    // rawset and rawget reach the external table.
    run(&mut e, "rawset(_home, 'r', 7) _home.r = _home.r + 1");
    assert_eq!(
        run(
            &mut e,
            "return rawget(_home, 'r'), _home.r, rawset(_home, 'z', 1) == _home, rawget({5}, 1)"
        ),
        vec![V::I(8), V::I(8), V::B(true), V::I(5)]
    );
    let mut key = Vec::new();
    Writer(&mut key).string(b"r");
    let mut value = Vec::new();
    assert!(host
        .table_get(e.memory_table_id(), &key, &mut value)
        .unwrap());
    // After attaching another table, `_home` follows it.
    let id = e.table_new().unwrap();
    e.attach_memory_table(id).unwrap();
    assert_eq!(
        run(&mut e, "return ext.id(_home), ext.id(Memory), _home.r"),
        vec![V::I(id as i64), V::I(id as i64), V::Nil]
    );
}

type Contents = Vec<(u32, Vec<(Vec<u8>, Vec<u8>)>)>;

/// Every entry the host holds, in a comparable form.
fn contents(host: &MemoryHost) -> Contents {
    let tables = host.tables.borrow();
    let mut out: Vec<_> = tables
        .iter()
        .map(|(id, t)| {
            (
                *id,
                t.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(),
            )
        })
        .collect();
    out.sort();
    out
}
