//! External tables as the VM's own table kind, through the engine and an in-memory host:
//! what scripts see is a plain table; the data stays in the host.

use std::rc::Rc;

use lua_persist_engine::codec::{Item, Reader, Writer};
use lua_persist_engine::{Engine, ErrorKind, Host, Limits, MemoryHost};

fn engine() -> (Engine, Rc<MemoryHost>) {
    let host = Rc::new(MemoryHost::default());
    (Engine::new(host.clone()), host)
}

/// The results as lua5.4's `print` would show them, tab-separated.
fn run(e: &mut Engine, code: &str) -> String {
    let bytes = e
        .compute("=test", code.as_bytes())
        .unwrap_or_else(|f| panic!("{code}: {f:?}"));
    let mut r = Reader::new(&bytes);
    let n = r.u32().unwrap();
    let shown: Vec<String> = (0..n)
        .map(|_| match r.item().unwrap() {
            Item::Nil => "nil".into(),
            Item::Boolean(b) => b.to_string(),
            Item::Integer(i) => i.to_string(),
            Item::Float(f) => format!("{f:?}"),
            Item::String(s) => String::from_utf8_lossy(s).into_owned(),
            Item::TableRef(id) => format!("ref {id}"),
            other => format!("{other:?}"),
        })
        .collect();
    shown.join("\t")
}

fn fail(e: &mut Engine, code: &str) -> (ErrorKind, String) {
    let f = e.compute("=test", code.as_bytes()).unwrap_err();
    (f.kind, f.message)
}

/// A second engine on the same host, as after a reload.
fn reload(first: Engine, host: &Rc<MemoryHost>) -> Engine {
    let (home, next) = (first.memory_table_id(), first.next_table_id());
    drop(first);
    let mut second = Engine::new(host.clone());
    second.sync_table_counter(next);
    second.attach_memory_table(home).unwrap();
    second
}

#[test]
fn next_rawlen_and_the_raw_functions_see_the_entries() {
    let (mut e, _) = engine();
    assert_eq!(
        run(
            &mut e,
            "_home.a = 1 return next(_home), rawlen(_home), rawget(_home, 'a')"
        ),
        "a\t0\t1"
    );
    assert_eq!(
        run(
            &mut e,
            "_home.a = nil for i = 1, 5 do _home[i] = i * i end
             rawset(_home, 6, 36)
             local n = 0 for k, v in pairs(_home) do n = n + v end
             local m = 0 for i, v in ipairs(_home) do m = m + i end
             return #_home, rawlen(_home), n, m, select('#', table.unpack(_home)),
                    rawequal(_home, Memory), type(_home), getmetatable(_home)"
        ),
        "6\t6\t91\t21\t6\ttrue\ttable\texternal table"
    );
    assert_eq!(
        run(
            &mut e,
            "table.insert(_home, 1, 0) table.remove(_home) table.sort(_home, function(a, b) return a > b end)
             return table.concat(_home, ',')"
        ),
        "25,16,9,4,1,0"
    );
}

#[test]
fn a_border_search_built_to_hang_ends_and_counts_against_the_limit() {
    let (mut e, _) = engine();
    let setup = "local t = ext.table() _home.t = t local k = 1
                 while k > 0 do t[k] = true k = k * 2 end
                 t[math.maxinteger] = true t[math.mininteger] = true
                 return #t == math.maxinteger, #t == math.maxinteger";
    assert_eq!(run(&mut e, setup), "true\ttrue");
    e.set_limits(Limits {
        instructions: 200_000,
        ..Limits::default()
    });
    let (kind, _) = fail(&mut e, "local t = _home.t while true do local _ = #t end");
    assert_eq!(kind, ErrorKind::InstructionLimit);
}

#[test]
fn storing_the_globals_or_a_library_is_refused_and_changes_nothing() {
    let (mut e, host) = engine();
    for (code, what) in [
        ("_home.g = _G", "the globals table"),
        ("_home.g = _ENV", "the globals table"),
        ("_home.s = string", "the library table 'string'"),
        ("_home.m = {math}", "the library table 'math'"),
        ("_home.e = ext", "the library table 'ext'"),
        ("ext.table(os)", "the library table 'os'"),
    ] {
        let (kind, msg) = fail(&mut e, code);
        assert_eq!(kind, ErrorKind::Runtime);
        assert_eq!(
            msg,
            format!("test:1: cannot store {what} in an external table")
        );
    }
    assert!(host.string_keys(e.memory_table_id()).is_empty());
    assert_eq!(
        run(&mut e, "print('still here') return string.upper('ok')"),
        "OK"
    );
}

#[test]
fn rawset_writes_the_persistent_table() {
    // Assigning `_home` itself is refused: tests/engine.rs, home_cannot_be_detached.
    let (mut e, host) = engine();
    assert_eq!(
        run(&mut e, "_home.x = 1 return Memory.x, _home == Memory"),
        "1\ttrue"
    );
    run(&mut e, "rawset(_home, 'y', 2)");
    let keys = host.string_keys(e.memory_table_id());
    assert!(keys.contains(&b"x".to_vec()) && keys.contains(&b"y".to_vec()));
}

#[test]
fn stored_functions_are_one_closure_and_share_their_upvalues_after_a_reload() {
    let (mut e, host) = engine();
    run(
        &mut e,
        "local count = 0
         function _home.inc() count = count + 1 return count end
         function _home.get() return count end
         local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end
         _home.fact = fact",
    );
    assert_eq!(
        run(&mut e, "return _home.inc == _home.inc, _home.fact(6)"),
        "true\t720"
    );
    let mut e = reload(e, &host);
    assert_eq!(
        run(
            &mut e,
            "local inc, get = _home.inc, _home.get
             inc() inc()
             return get(), _home.inc == inc, _home.fact(5), _home.fact == _home.fact"
        ),
        "2\ttrue\t120\ttrue"
    );
}

#[test]
fn a_released_cell_is_forgotten_and_a_variable_stored_again_gets_a_new_one() {
    let (mut e, host) = engine();
    run(
        &mut e,
        "local count = 0
         function _home.inc() count = count + 1 return count end
         keep = function() return count end",
    );
    let cell = e.next_table_id() - 1;
    assert!(host.tables.borrow().contains_key(&cell));
    run(&mut e, "_home.get = keep");
    assert_eq!(
        e.next_table_id(),
        cell + 1,
        "the stored variable keeps its cell"
    );
    e.release_cell(cell);
    run(&mut e, "_home.get = keep");
    assert_eq!(e.next_table_id(), cell + 2, "a released cell is not reused");
    let mut e = reload(e, &host);
    run(&mut e, "loaded = _home.inc");
    e.release_cell(cell);
    // A cell of its own, holding the value stored: no longer shared with `loaded`.
    assert_eq!(
        run(
            &mut e,
            "_home.again = loaded return loaded(), _home.again()"
        ),
        "1\t1"
    );
    assert_eq!(e.next_table_id(), cell + 3);
}

#[test]
fn a_function_in_the_old_format_is_refused_by_name_and_nothing_else_is_lost() {
    let (mut e, host) = engine();
    run(&mut e, "_home.n = 7 _home.t = {x = 1}");
    // What the piccolo-era engine wrote: the id list, then its own prototype bytes.
    let mut key = Vec::new();
    Writer(&mut key).string(b"old");
    let mut value = Vec::new();
    Writer(&mut value).function(&[0, 0, 0, 0, 0x1b, b'L', b'u', b'a', 0x54, 0]);
    host.table_set(e.memory_table_id(), &key, &value).unwrap();
    let mut e = reload(e, &host);
    let (kind, msg) = fail(&mut e, "return _home.old");
    assert_eq!(kind, ErrorKind::Runtime);
    assert_eq!(
        msg,
        "test:1: key 'old': function stored by an earlier version (piccolo format) cannot be loaded; store it again"
    );
    assert_eq!(run(&mut e, "return _home.n, _home.t.x"), "7\t1");
}

#[test]
fn string_values_come_back_exactly_and_a_wrong_length_is_a_host_error() {
    let (mut e, host) = engine();
    run(
        &mut e,
        "_home.e = '' _home.b = 'a\\0b\\255' _home.l = ('x'):rep(100000) _home[1] = 'one'",
    );
    assert_eq!(
        run(
            &mut e,
            "local t = _home return #t.e, t.b == 'a\\0b\\255', #t.l, t[1], t.e == ''"
        ),
        "0\ttrue\t100000\tone\ttrue"
    );
    let id = e.memory_table_id();
    for declared in [1u8, 3] {
        let mut key = Vec::new();
        Writer(&mut key).string(b"bad");
        host.table_set(id, &key, &[4, declared, 0, 0, 0, b'a', b'b'])
            .unwrap();
        let (kind, msg) = fail(&mut e, "return _home.bad");
        assert_eq!(kind, ErrorKind::BadInput, "{msg}");
        assert!(msg.contains("host error: "), "{msg}");
    }
}

/// The encoded keys of table `id`, in the host's order.
fn host_keys(host: &MemoryHost, id: u32) -> Vec<Vec<u8>> {
    let tables = host.tables.borrow();
    tables
        .get(&id)
        .map(|t| t.iter().map(|(k, _)| k.to_vec()).collect())
        .unwrap_or_default()
}

fn integer_key(i: i64) -> Vec<u8> {
    let mut key = Vec::new();
    Writer(&mut key).integer(i);
    key
}

#[test]
fn each_table_instruction_reads_and_writes_the_host_directly() {
    let (mut e, host) = engine();
    let id = e.memory_table_id();
    // SetTable, SetInt and SetField write; GetTable, GetInt and GetField read.
    run(
        &mut e,
        "local t, big, small, two = _home, math.maxinteger, math.mininteger, 2.0
         t[big] = 'max' t[small] = 'min' t[two] = 'two' t[1.5] = 'half' t[true] = false
         t[3] = 3.25 t.name = 'n' t[t] = 'self' t[-0.0] = 'zero'",
    );
    assert_eq!(
        run(
            &mut e,
            "local t, big, small = _home, math.maxinteger, math.mininteger
             return t[big], t[small], t[2], t[2.0], t[1.5], t[true], t[3], t.name, t[t], t[0]"
        ),
        "max\tmin\ttwo\ttwo\thalf\tfalse\t3.25\tn\tself\tzero"
    );
    // Float keys with integral values are integers by the time they reach the host.
    let keys = host_keys(&host, id);
    for i in [i64::MAX, i64::MIN, 2, 0] {
        assert!(keys.contains(&integer_key(i)), "{i}");
    }
    assert_eq!(keys.len(), 9);
    // Nil deletes, whichever instruction writes it.
    run(
        &mut e,
        "local t, k = _home, math.maxinteger t[k] = nil t[3] = nil t.name = nil t[2.0] = nil",
    );
    assert_eq!(host_keys(&host, id).len(), 5);
    assert_eq!(
        run(
            &mut e,
            "local t = _home return t[math.maxinteger], t[3], t.name, t[2], t[nil], t[0/0]"
        ),
        "nil\tnil\tnil\tnil\tnil\tnil"
    );
}

#[test]
fn strings_either_side_of_the_short_and_inline_lengths_round_trip_as_keys_and_values() {
    let (mut e, _) = engine();
    let code = "local t = _home
        for n = 0, 48 do t[('k'):rep(n)] = ('v'):rep(n) end
        for n = 0, 48 do
          local k = ('k'):rep(n)
          assert(t[k] == ('v'):rep(n), n)
          t[k] = nil
          assert(t[k] == nil, n)
        end
        return next(t)";
    assert_eq!(run(&mut e, code), "nil");
}

#[test]
fn refusals_and_bad_keys_from_the_table_instructions_keep_their_messages_and_lines() {
    let (mut e, host) = engine();
    let before = host_keys(&host, e.memory_table_id());
    for (code, message) in [
        (
            "local t, k = _home, nil\nt[k] = 1",
            "test:2: table index is nil",
        ),
        (
            "local t, k = _home, 0/0\nt[k] = 1",
            "test:2: table index is NaN",
        ),
        (
            "local t = _home\nt.co = coroutine.create(print)",
            "test:2: cannot store a coroutine in an external table",
        ),
        (
            "local t = _home\nt[1] = io.stdout",
            "test:2: cannot store a userdata in an external table",
        ),
        (
            "local t = _home\nt[print] = 1",
            "test:2: cannot use a function as an external table key",
        ),
        // A concatenation stored straight away (see `Concat`) fails the same way.
        (
            "local t, k = _home, nil\nt[k] = 'v' .. 1",
            "test:2: table index is nil",
        ),
        (
            "local t, k = _home, 0/0\nt[k] = 'v' .. 1",
            "test:2: table index is NaN",
        ),
        (
            "local t = _home\nt[print] = 'v' .. 1",
            "test:2: cannot use a function as an external table key",
        ),
        // So does a concatenated key, and a concatenation that fails keeps its own line.
        (
            "local t = _home\nt['k' .. 1] = coroutine.create(print)",
            "test:2: cannot store a coroutine in an external table",
        ),
        (
            "local t, x = _home, nil\nt['k' .. 1] =\n'v' .. x",
            "test:3: attempt to concatenate a nil value (local 'x')",
        ),
        (
            "local t, x = _home, nil\nreturn\n#t['k' .. x]",
            "test:3: attempt to concatenate a nil value (local 'x')",
        ),
    ] {
        let (kind, msg) = fail(&mut e, code);
        assert_eq!(
            (kind, msg.as_str()),
            (ErrorKind::Runtime, message),
            "{code}"
        );
    }
    assert_eq!(host_keys(&host, e.memory_table_id()), before);
}

#[test]
fn a_concatenation_stored_straight_into_an_external_table_is_the_string() {
    let (mut e, _) = engine();
    // The three store instructions, integer and string operands, results either side of the
    // short-string limit (40 bytes), and a plain table's value for comparison.
    let code = "local t, p, s = _home, {}, ('x'):rep(35)
        for i = 1, 3 do
          t['k' .. i] = 'v' .. i; p['k' .. i] = 'v' .. i
          t.f = i .. 'f'; p.f = i .. 'f'
          t[7] = s .. i; p[7] = s .. i
          t[8] = s .. (i * 100000); p[8] = s .. (i * 100000)
        end
        for k, v in pairs(p) do assert(t[k] == v, k) end
        return t.k3, t.f, t[7], #t[8], t[8] == p[8]";
    let long = format!("{}3", "x".repeat(35));
    assert_eq!(run(&mut e, code), format!("v3	3f	{long}	41	true"));
}

#[test]
fn a_local_stored_from_a_concatenation_keeps_its_value() {
    let (mut e, _) = engine();
    // The store right after `local s = ...` takes a local variable's register: `s` must
    // still hold the string afterwards.
    let code = "local t = _home
        local s = 'v' .. 1
        t.a = s
        local u = 2 .. 'w'; t[1] = u
        local w = 'z' .. 3; t[w] = w
        return s, u, w, t.a, t[1], t.z3";
    assert_eq!(run(&mut e, code), "v1	2w	z3	v1	2w	z3");
}

#[test]
fn a_stored_concatenation_with_a_plain_table_key_or_under_a_hook_is_the_string() {
    let (mut e, _) = engine();
    // A plain table as the key becomes external first, as for any value.
    assert_eq!(
        run(
            &mut e,
            "local k = {} _home[k] = 'v' .. 1 return _home[k], getmetatable(k) ~= nil"
        ),
        "v1\ttrue"
    );
    // Under a hook every instruction is seen: the store stays its own instruction.
    assert_eq!(
        run(
            &mut e,
            "local n = 0 debug.sethook(function() n = n + 1 end, '', 1)
             local t = _home t.h = 'v' .. 2 debug.sethook() return t.h, n > 0"
        ),
        "v2\ttrue"
    );
}

#[test]
fn a_concatenated_key_stored_or_read_straight_away_is_the_string() {
    let (mut e, _) = engine();
    // Each kind of value after a key built by `..`, on an external and a plain table: loads,
    // constants, a second concatenation (short, long, with a float, through `__concat`),
    // calls, tables, nil; then the same keys read back, present or not.
    let code = "local t, p, s, up = _home, {}, ('x'):rep(35), 'u'
        local cat = setmetatable({}, {__concat = function(a, b) return 'm' end})
        local function f() return 'f' end
        local function fill(t, i)
          local x = i * 2
          t['a' .. i] = 'v' .. i
          t['b' .. i] = i
          t['c' .. i] = x
          t['d' .. i] = 'const'
          t['e' .. i] = true
          t['f' .. i] = 2.5
          t['g' .. i] = up
          t['h' .. i] = f()
          t['i' .. i] = s .. i
          t['j' .. i] = 'v' .. 1.5
          t['k' .. i] = cat .. 'x'
          t['l' .. i] = {n = i}
          t['m' .. i] = 'v' .. i .. 'w'
          t[s .. i] = 'long key'
          t['n' .. i] = 'gone'
          t['n' .. i] = nil
        end
        for i = 1, 3 do fill(t, i); fill(p, i) end
        local n = 0
        for k, v in pairs(p) do
          local w = t[k]
          if type(v) == 'table' then assert(w.n == v.n, k) else assert(w == v, k) end
          n = n + 1
        end
        local read = {}
        for _, k in ipairs({'a', 'b', 'i', 'l', 'n', 'z'}) do
          local v = t[k .. 2]
          read[#read + 1] = type(v) == 'table' and 'table' or tostring(v)
        end
        return n, table.concat(read, ' '), #t['i' .. 3], t[s .. 1], t.k1, t.j2";
    assert_eq!(
        run(&mut e, code),
        format!(
            "42	v2 2 {}2 table nil nil	36	long key	m	v1.5",
            "x".repeat(35)
        )
    );
}

/// Lua statements on table `T` from a seed: stores and reads whose keys and values are the
/// shapes the interpreter may run together with a concatenation, and their neighbours.
fn random_statements(seed: u64, count: usize) -> String {
    const KEYS: [&str; 10] = [
        "'k' .. i",
        "i .. 'k'",
        "'k' .. (i % 3)",
        "s .. i",
        "'k' .. 1.5",
        "cat .. 'x'",
        "'k' .. i .. 'j'",
        "k1",
        "i",
        "'lit'",
    ];
    const VALUES: [&str; 12] = [
        "'v' .. i",
        "i",
        "x",
        "'c'",
        "true",
        "2.5",
        "nil",
        "up",
        "f()",
        "s .. i",
        "'v' .. 1.5",
        "cat .. 'y'",
    ];
    let mut state = seed;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    };
    let mut code = String::new();
    for _ in 0..count {
        let key = KEYS[next(KEYS.len())];
        if next(3) == 0 {
            code.push_str(&format!("out[#out + 1] = tostring(T[{key}])\n"));
        } else {
            code.push_str(&format!("T[{key}] = {}\n", VALUES[next(VALUES.len())]));
        }
    }
    code
}

#[test]
fn random_stores_and_reads_on_an_external_table_behave_as_on_a_plain_one() {
    let (mut e, _) = engine();
    let prelude = "local s, up, k1 = ('x'):rep(35), 'u', 'k1'
        local cat = setmetatable({}, {__concat = function(a, b) return 'm' end})
        local function f() return 'f' end";
    // What a table holds, sorted, and what the reads saw.
    let summary = "local keys = {}
        for k, v in pairs(T) do keys[#keys + 1] = tostring(k) .. '=' .. tostring(v) end
        table.sort(keys)
        return table.concat(out, ',') .. ' | ' .. table.concat(keys, ',')";
    for seed in 0..40 {
        let body = random_statements(seed, 30);
        let on = |table: &str| {
            format!(
                "{prelude}\nlocal out, T = {{}}, {table}\nfor i = 1, 3 do local x = i * 2\n{body}end\n{summary}"
            )
        };
        let plain = run(&mut e, &on("{}"));
        let external = run(&mut e, &on("ext.table()"));
        assert_eq!(external, plain, "seed {seed}:\n{body}");
    }
}

#[test]
fn a_key_made_into_a_local_keeps_its_value() {
    let (mut e, _) = engine();
    let code = "local t = _home
        local k = 'k' .. 1
        t[k] = 1
        local j = 'j' .. 2
        t[j] = 'v' .. 2
        local v = t['k' .. 1]
        return k, j, t.k1, t.j2, v";
    assert_eq!(run(&mut e, code), "k1	j2	1	v2	1");
}

#[test]
fn concatenated_keys_and_values_under_a_hook_or_in_a_stripped_function_are_the_strings() {
    let (mut e, _) = engine();
    e.set_binary_chunks(true);
    let code = "local function fill(t)
          for i = 1, 3 do t['k' .. i] = 'v' .. i; t['n' .. i] = #t['k' .. i] end
        end
        local n = 0
        debug.sethook(function() n = n + 1 end, '', 1)
        fill(_home)
        debug.sethook()
        load(string.dump(function(t)
          for i = 4, 6 do t['k' .. i] = 'v' .. i; t['n' .. i] = #t['k' .. i] end
        end, true))(_home)
        local got = {}
        for i = 1, 6 do got[i] = _home['k' .. i] .. _home['n' .. i] end
        return table.concat(got, ' '), n > 0";
    assert_eq!(run(&mut e, code), "v12 v22 v32 v42 v52 v62	true");
}

#[test]
fn filling_an_external_table_by_concatenated_keys_and_values_makes_no_strings() {
    let (mut e, host) = engine();
    run(&mut e, "return 1");
    e.collect_garbage();
    let start = e.heap_bytes();
    let code = "local t = _home
        for i = 1, 20000 do t['k' .. i] = 'v' .. i end
        return t.k20000";
    assert_eq!(run(&mut e, code), "v20000");
    // A string object for each of twenty thousand keys and values would be over a megabyte.
    assert!(
        e.peak_heap_bytes() < start + 64 * 1024,
        "{start} -> {}",
        e.peak_heap_bytes()
    );
    assert_eq!(host_keys(&host, e.memory_table_id()).len(), 20000);
}

#[test]
fn storing_big_tables_in_a_loop_is_charged_as_it_happens() {
    let (mut e, _) = engine();
    e.set_limits(Limits {
        instructions: 200_000,
        ..Limits::default()
    });
    // 20 tables of 1,000 entries: 20,000 host writes, far more fuel than the loop's own.
    let code = "local t = _home for i = 1, 20 do local x = {} for j = 1, 1000 do x[j] = j end t[i] = x end";
    let (kind, _) = fail(&mut e, code);
    assert_eq!(kind, ErrorKind::InstructionLimit);
}
