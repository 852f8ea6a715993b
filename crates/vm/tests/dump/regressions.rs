//! Crashes the fuzzer (and the review behind the verifier's rules) found in the VM, each
//! cut down to the Lua that shows it. They are not binary-chunk bugs: a verified chunk only
//! does what compiled source can do, so source reproduces them. The ignored ones still
//! crash or hang the VM; each says where, and passes once that is fixed.

use lua_persist_vm::Step;

use super::new_lua;

/// Runs `source` in slices of fuel: it must end (or raise an error) without panicking, and
/// every slice must come back.
fn survives(source: &str) -> Result<(), String> {
    let mut lua = new_lua();
    lua.start_chunk(source.as_bytes(), b"=regression", &[])
        .map_err(|e| String::from_utf8_lossy(&e.message).into_owned())?;
    for _ in 0..1000 {
        match lua.step(1000) {
            Step::Pending => continue,
            Step::Done => return Ok(()),
            Step::Error(e) => return Err(e.message),
            Step::Exit(_) => return Err(String::from("os.exit")),
        }
    }
    Err(String::from("still running after 1000 slices"))
}

/// Found by `fuzz_short` as a bit flip of a golden program (fixed in the table since).
#[test]
fn a_table_grows_past_a_hole() {
    survives("local t = {} t[1]=1 t[2]=2 t[4]=1 assert(#t == 2 or #t == 4)").unwrap();
    survives("local t = {} for i = 1, 4 do t[i] = i end t[7] = 7 assert(t[7] == 7)").unwrap();
}

/// Found by `make fuzz` (a swap of two instructions of vararg.lua): `Return1` handed its
/// value straight to a Lua caller without giving the caller its registers back after a
/// native call in the callee had cut the stack down (fixed in the interpreter since).
#[test]
fn a_callee_that_called_a_native_leaves_its_callers_registers() {
    let source = "
        local function g(...) local n = select('#', ...) return n end
        local x = g()
        local a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
        assert(x == 0 and a10 == 10)";
    survives(source).unwrap();
}

/// A native `__call` runs in place and calls the value again: Rust recursion without bound
/// (interp/call.rs, `call_value` -> `call_native` -> `handle_action` -> `call_value`); lua5.4
/// stops at its C-stack limit with "C stack overflow".
#[test]
fn a_native_as_its_own_call_metamethod() {
    let source = "
        local t = setmetatable({}, {__call = pcall})
        assert(select('#', t(6, 7)) > 1)";
    survives(source).unwrap();
}

/// A native message handler that fails is called again for its own error, in place
/// (interp/unwind.rs, `raise`'s `Err` arm); lua5.4 says "error in error handling".
#[test]
fn a_native_message_handler_that_fails() {
    let source = "
        local ok, e = xpcall(function () error({}) end, xpcall)
        assert(not ok and e == 'error in error handling')";
    survives(source).unwrap();
}

/// Naming `t.a.a....a` in a message recurses once per `.a` and rescans the code each time
/// (interp/describe.rs, `object_name` <-> `field_or_global`): 100 000 levels take half a
/// minute and overflow the stack; a few thousand already overflow a test thread's.
#[test]
fn a_long_field_chain_in_an_error_message() {
    let mut source = String::from("local t = {} t.a = t local ok = pcall(function () return t");
    source.push_str(&".a".repeat(20_000));
    source.push_str("() end) assert(not ok)");
    survives(&source).unwrap();
}

/// Work that spends no fuel: a slice never comes back.
mod fuel {
    use super::survives;

    /// A comparison metamethod's answer moves `pc` without `jump!`'s charge (exec.rs,
    /// `RetMode::Cond` through `compare!`), and the metamethod's straight-line code is free.
    #[test]
    fn a_loop_on_a_comparison_metamethod() {
        let source = "
            local t = setmetatable({}, {__lt = function () return false end})
            repeat until t < t";
        assert!(survives(source).is_err());
        // Found by `make fuzz`: an `Eq` that jumps to itself while `__eq` says yes.
        let source = "
            local mt = {__eq = function () return true end}
            local t, u = setmetatable({}, mt), setmetatable({}, mt)
            repeat until t ~= u";
        assert!(survives(source).is_err());
    }

    /// Lua functions called by natives (`pcall`) are not charged; two calls per level make
    /// the work exponential in the depth the stack allows.
    #[test]
    fn a_tree_of_protected_calls() {
        let source = "local function f() pcall(f) pcall(f) end f()";
        assert!(survives(source).is_err());
    }

    /// `load` calls its reader until it returns nothing, charging nothing.
    #[test]
    fn a_reader_that_never_ends() {
        let source = "load(function () return 'x' end)";
        assert!(survives(source).is_err());
    }

    /// A value that is its own `__call`: `call_value` inserts it below itself forever
    /// (lua5.4.4 loops too; 5.4.6 reports a too long `__call` chain).
    #[test]
    fn a_value_that_is_its_own_call_metamethod() {
        let source = "
            local t = setmetatable({}, {})
            getmetatable(t).__call = t
            assert(not pcall(t))";
        survives(source).unwrap();
    }
}
