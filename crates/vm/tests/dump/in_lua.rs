//! `string.dump` and `load` as Lua code uses them: the binary-chunk parts of the official
//! suite's calls.lua and db.lua, adapted to the libraries this crate has so far.

use lua_persist_vm::Step;

use super::new_lua;

/// Runs `source` to the end; an error (a failed `assert`) is returned with its message.
fn run_lua(source: &str) -> Result<(), String> {
    let mut lua = new_lua();
    lua.start_chunk(source.as_bytes(), b"=test", &[])
        .map_err(|e| String::from_utf8_lossy(&e.message).into_owned())?;
    match lua.run() {
        Step::Done => Ok(()),
        Step::Error(e) => Err(e.message),
        Step::Exit(_) => Err(String::from("os.exit")),
        Step::Pending => unreachable!("run goes to the end"),
    }
}

#[test]
fn dumped_functions_load_and_run() {
    run_lua(
        r#"
        local f = load(string.dump(function () return 1 end), nil, "b", {})
        assert(type(f) == "function" and f() == 1)

        local x = string.dump(load("x = 1; return x"))
        local a = assert(load(x, nil, "b"))
        assert(a() == 1 and _G.x == 1)
        local ok, msg = load(x, nil, "t")
        assert(ok == nil and msg == "attempt to load a binary chunk (mode is 't')")
        assert(not pcall(string.dump, print))

        x = [[
          return function (x)
            return function (y)
             return function (z)
               return x+y+z
             end
           end
          end
        ]]
        a = assert(load(x, "read", "t"))
        assert(a()(2)(3)(10) == 15)
        a = assert(load(string.dump(a), "read", "b"))
        assert(a()(2)(3)(10) == 15)
        a = assert(load(string.dump(a, true), "read", "b"))
        assert(a()(2)(3)(10) == 15)
        "#,
    )
    .unwrap();
}

#[test]
fn upvalues_are_not_dumped() {
    run_lua(
        r#"
        local x; XX = 123
        local function h ()
          local y=x   -- use 'x', so that it becomes 1st upvalue
          return XX   -- global name
        end
        local d = string.dump(h)
        x = load(d, "", "b")
        assert(debug.getupvalue(x, 2) == '_ENV')
        debug.setupvalue(x, 2, _G)
        assert(x() == 123)

        local a, b = 20, 30
        x = load(string.dump(function (x)
          if x == "set" then a = 10+b; b = b+1 else
          return a
          end
        end), "", "b", nil)
        assert(x() == nil)
        assert(debug.setupvalue(x, 1, "hi") == "a")
        assert(x() == "hi")
        assert(debug.setupvalue(x, 2, 13) == "b")
        assert(not debug.setupvalue(x, 3, 10))   -- only 2 upvalues
        x("set")
        assert(x() == 23)
        x("set")
        assert(x() == 24)
        "#,
    )
    .unwrap();
}

#[test]
fn a_main_chunk_with_many_upvalues() {
    run_lua(
        r#"
        local nup = 200
        local prog = {"local a1"}
        for i = 2, nup do prog[#prog + 1] = ", a" .. i end
        prog[#prog + 1] = " = 1"
        for i = 2, nup do prog[#prog + 1] = ", " .. i end
        local sum = 1
        prog[#prog + 1] = "; return function () return a1"
        for i = 2, nup do prog[#prog + 1] = " + a" .. i; sum = sum + i end
        prog[#prog + 1] = " end"
        local text = ""
        for i = 1, #prog do text = text .. prog[i] end
        local f = assert(load(text))()
        assert(f() == sum)

        f = load(string.dump(f))   -- main chunk now has many upvalues
        local a = 10
        local h = function () return a end
        for i = 1, nup do
          debug.upvaluejoin(f, i, h, 1)
        end
        assert(f() == 10 * nup)
        "#,
    )
    .unwrap();
}

#[test]
fn stripped_functions_lose_their_source() {
    run_lua(
        r#"
        local prog = [[
          return function (x)
            return function (y)
              return x + y
            end
          end
        ]]
        local p = assert(load(prog, "=named"))
        local c = string.dump(p)
        local f = assert(load(c))
        local g = f()
        local h = g(3)
        assert(h(5) == 8)
        assert(debug.getinfo(f).source == "=named" and
               debug.getinfo(g).source == "=named" and
               debug.getinfo(h).source == "=named")
        c = string.dump(p, true)
        f = assert(load(c))
        g = f()
        h = g(30)
        assert(h(50) == 80)
        assert(debug.getinfo(f).source == '=?' and
               debug.getinfo(g).source == '=?' and
               debug.getinfo(h).source == '=?')
        "#,
    )
    .unwrap();
}

#[test]
fn malformed_chunks_give_nil_and_a_message() {
    run_lua(
        r#"
        local f, msg = load("\27Lua\x54\0\25\147\r\n\26\n")
        assert(f == nil and msg == "binary string: bad binary format (precompiled by PUC-Rio Lua, not by this VM)")
        f, msg = load("\27Lu", "=x")
        assert(f == nil and msg == "x: bad binary format (truncated chunk)")
        "#,
    )
    .unwrap();
}
