//! Function handles: functions that reach the host, called back with encoded arguments.

use std::rc::Rc;

use lua_persist_engine::codec::{Item, Reader, Writer};
use lua_persist_engine::handles::{
    GLOBAL_GET, GLOBAL_SET, OBJECT_INDEX, OBJECT_NEWINDEX, TABLE_ITERATE, TABLE_LENGTH, TABLE_OPEN,
    TABLE_SET,
};
use lua_persist_engine::{Engine, ErrorKind, Failure, MemoryHost, Step};

fn engine() -> Engine {
    let mut e = Engine::new(Rc::new(MemoryHost::default()));
    e.set_function_handles(true);
    e
}

/// The staged input of a call: handle, count, then the arguments `write` encodes.
fn input(handle: u32, count: u32, write: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer(&mut out);
    w.u32(handle);
    w.u32(count);
    write(&mut w);
    out
}

fn finish(e: &mut Engine) -> Result<Vec<u8>, Failure> {
    loop {
        if let Step::Finished(r) = e.resume(1000) {
            return r;
        }
    }
}

fn call(e: &mut Engine, bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    e.start_call(bytes)?;
    finish(e)
}

/// The handle of the only result.
fn handle_of(result: &[u8]) -> u32 {
    let mut r = Reader::new(result);
    assert_eq!(r.u32().unwrap(), 1);
    match r.item().unwrap() {
        Item::Handle(h) => h,
        other => panic!("expected a handle, got {other:?}"),
    }
}

#[test]
fn a_returned_function_is_called_through_its_handle() {
    let mut e = engine();
    let code = b"return function(a, t) return a + t[1], #t end";
    let f = handle_of(&e.compute("=t", code).unwrap());
    // The inline table arrives as a new plain table.
    let args = input(f, 2, |w| {
        w.integer(40);
        w.inline_table(1);
        w.integer(1);
        w.integer(2);
    });
    let out = call(&mut e, &args).unwrap();
    let mut r = Reader::new(&out);
    assert_eq!(r.u32().unwrap(), 2);
    assert_eq!(
        (r.item().unwrap(), r.item().unwrap()),
        (Item::Integer(42), Item::Integer(1))
    );
    let wrong = input(f, 2, |w| {
        w.integer(40);
        w.integer(2);
    });
    assert_eq!(call(&mut e, &wrong).unwrap_err().kind, ErrorKind::Runtime);
}

#[test]
fn globals_are_read_and_written_through_the_accessors() {
    let mut e = engine();
    let set = input(GLOBAL_SET, 2, |w| {
        w.string(b"x");
        w.integer(7);
    });
    call(&mut e, &set).unwrap();
    let got = call(&mut e, &input(GLOBAL_GET, 1, |w| w.string(b"x"))).unwrap();
    let mut r = Reader::new(&got);
    assert_eq!((r.u32().unwrap(), r.item().unwrap()), (1, Item::Integer(7)));
    let home = call(
        &mut e,
        &input(GLOBAL_SET, 2, |w| {
            w.string(b"_home");
            w.integer(1);
        }),
    );
    assert!(home
        .unwrap_err()
        .message
        .contains("cannot assign to '_home'"));
}

#[test]
fn a_released_handle_is_refused_and_accessors_stay() {
    let mut e = engine();
    let f = handle_of(&e.compute("=t", b"return print").unwrap());
    assert!(e.release_handle(f));
    assert!(!e.release_handle(f));
    assert!(!e.release_handle(GLOBAL_GET));
    let refused = call(&mut e, &input(f, 0, |_| {})).unwrap_err();
    assert_eq!(refused.kind, ErrorKind::BadInput);
    assert!(refused.message.contains("released"));
    // A handle passed as an argument is its function.
    let g = handle_of(
        &e.compute("=t", b"return function(h) return h(3) end")
            .unwrap(),
    );
    let h = handle_of(
        &e.compute("=t", b"return function(x) return x * 2 end")
            .unwrap(),
    );
    let out = call(&mut e, &input(g, 1, |w| w.handle(h))).unwrap();
    let mut r = Reader::new(&out);
    assert_eq!((r.u32().unwrap(), r.item().unwrap()), (1, Item::Integer(6)));
}

#[test]
fn handles_are_off_unless_asked_for() {
    let mut e = Engine::new(Rc::new(MemoryHost::default()));
    let out = e.compute("=t", b"return print").unwrap();
    let mut r = Reader::new(&out);
    assert_eq!(
        (r.u32().unwrap(), r.item().unwrap()),
        (1, Item::Opaque(b"function"))
    );
}

/// Runs until the run waits for the host or ends.
fn until_waiting(e: &mut Engine) -> Result<Vec<u8>, Option<Result<Vec<u8>, Failure>>> {
    loop {
        match e.resume(1000) {
            Step::Pending => {}
            Step::Waiting(call) => return Ok(call),
            Step::Finished(r) => return Err(Some(r)),
        }
    }
}

fn items(bytes: &[u8]) -> Vec<Item<'_>> {
    let mut r = Reader::new(bytes);
    let n = r.u32().unwrap();
    (0..n).map(|_| r.item().unwrap()).collect()
}

#[test]
fn a_host_function_suspends_the_run_until_answered() {
    let mut e = engine();
    let set = input(GLOBAL_SET, 2, |w| {
        w.string(b"f");
        w.host_function(7);
    });
    call(&mut e, &set).unwrap();
    let code = b"local ok, err = pcall(f, 1, 2)
        local co = coroutine.wrap(function() return f(3) end)
        return ok, err, co(), f == f, f";
    e.start("=t", code).unwrap();
    let first = until_waiting(&mut e).unwrap();
    assert_eq!(
        items(&first),
        [Item::Integer(7), Item::Integer(1), Item::Integer(2)]
    );
    let mut error = vec![1];
    Writer(&mut error).string(b"boom");
    e.host_return(&error).unwrap();
    let second = until_waiting(&mut e).unwrap();
    assert_eq!(items(&second), [Item::Integer(7), Item::Integer(3)]);
    let mut answer = vec![0];
    let mut w = Writer(&mut answer);
    w.u32(1);
    w.integer(30);
    e.host_return(&answer).unwrap();
    let done = until_waiting(&mut e).unwrap_err().unwrap().unwrap();
    assert_eq!(
        items(&done),
        [
            Item::Boolean(false),
            Item::String(b"boom"),
            Item::Integer(30),
            Item::Boolean(true),
            Item::HostFunction(7),
        ]
    );
    assert!(e.host_return(&answer).is_err());
}

#[test]
fn a_synchronous_run_fails_the_host_call_in_lua() {
    let mut e = engine();
    let set = input(GLOBAL_SET, 2, |w| {
        w.string(b"f");
        w.host_function(1);
    });
    call(&mut e, &set).unwrap();
    let out = e.compute("=t", b"return pcall(f)").unwrap();
    assert_eq!(
        items(&out),
        [
            Item::Boolean(false),
            Item::String(b"host functions cannot be called from a synchronous run")
        ]
    );
}

fn answer(write: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut out = vec![0];
    write(&mut Writer(&mut out));
    out
}

#[test]
fn a_host_object_is_one_userdata_whose_fields_ask_the_host() {
    let host = Rc::new(MemoryHost::default());
    let mut e = Engine::new(host.clone());
    e.set_function_handles(true);
    for name in [&b"obj"[..], b"same"] {
        let set = input(GLOBAL_SET, 2, |w| {
            w.string(name);
            w.host_object(5);
        });
        call(&mut e, &set).unwrap();
    }
    let out = e
        .compute("=t", b"return type(obj), rawequal(obj, same), obj")
        .unwrap();
    assert_eq!(
        items(&out),
        [
            Item::String(b"userdata"),
            Item::Boolean(true),
            Item::HostObject(5)
        ]
    );
    // Reading a field and writing one wait for the host.
    e.start("=t", b"obj.y = obj.x + 1; return 'done'").unwrap();
    let read = until_waiting(&mut e).unwrap();
    assert_eq!(
        items(&read),
        [
            Item::Integer(OBJECT_INDEX),
            Item::HostObject(5),
            Item::String(b"x")
        ]
    );
    e.host_return(&answer(|w| {
        w.u32(1);
        w.integer(41);
    }))
    .unwrap();
    let write = until_waiting(&mut e).unwrap();
    assert_eq!(
        items(&write),
        [
            Item::Integer(OBJECT_NEWINDEX),
            Item::HostObject(5),
            Item::String(b"y"),
            Item::Integer(42)
        ]
    );
    e.host_return(&answer(|w| w.u32(0))).unwrap();
    let done = until_waiting(&mut e).unwrap_err().unwrap().unwrap();
    assert_eq!(items(&done), [Item::String(b"done")]);
    // It cannot be stored in an external table.
    let refused = e.compute("=t", b"_home.o = obj").unwrap_err();
    assert!(refused
        .message
        .contains("cannot store a userdata in an external table"));
    // Once collected, the host is told, once.
    e.compute("=t", b"obj, same = nil, nil").unwrap();
    assert!(host.released.borrow().is_empty());
    e.collect_garbage();
    e.collect_garbage();
    assert_eq!(*host.released.borrow(), [5]);
}

#[test]
fn the_host_is_told_of_its_objects_when_the_state_ends() {
    let host = Rc::new(MemoryHost::default());
    let mut e = Engine::new(host.clone());
    let set = input(GLOBAL_SET, 2, |w| {
        w.string(b"obj");
        w.host_object(9);
    });
    call(&mut e, &set).unwrap();
    drop(e);
    assert_eq!(*host.released.borrow(), [9]);
}

#[test]
fn a_plain_table_is_opened_as_a_handle_and_read_in_place() {
    let mut e = engine();
    e.compute("=t", b"t = {10, 20, x = {}}; n = 1").unwrap();
    let t = handle_of(
        &call(
            &mut e,
            &input(TABLE_OPEN, 2, |w| {
                w.nil();
                w.string(b"t");
            }),
        )
        .unwrap(),
    );
    call(
        &mut e,
        &input(TABLE_SET, 3, |w| {
            w.handle(t);
            w.integer(3);
            w.integer(30);
        }),
    )
    .unwrap();
    let out = e.compute("=t", b"return t[3]").unwrap();
    assert_eq!(items(&out), [Item::Integer(30)]);
    let len = call(&mut e, &input(TABLE_LENGTH, 1, |w| w.handle(t))).unwrap();
    assert_eq!(items(&len), [Item::Integer(3)]);
    // A field that is a table opens too; one that is not is an error.
    let x = call(
        &mut e,
        &input(TABLE_OPEN, 2, |w| {
            w.handle(t);
            w.string(b"x");
        }),
    )
    .unwrap();
    assert!(matches!(items(&x)[..], [Item::Handle(_)]));
    let not = call(
        &mut e,
        &input(TABLE_OPEN, 2, |w| {
            w.nil();
            w.string(b"n");
        }),
    )
    .unwrap_err();
    assert_eq!(not.message, "global 'n' is not a table (a number value)");
    // An external table comes back by reference; iteration goes in pages.
    let home = call(
        &mut e,
        &input(TABLE_OPEN, 2, |w| {
            w.nil();
            w.string(b"_home");
        }),
    )
    .unwrap();
    assert!(matches!(items(&home)[..], [Item::TableRef(_)]));
    let next = handle_of(&call(&mut e, &input(TABLE_ITERATE, 1, |w| w.handle(t))).unwrap());
    let page = call(&mut e, &input(next, 1, |w| w.integer(2))).unwrap();
    let mut r = Reader::new(&page);
    assert_eq!(
        (r.u32().unwrap(), r.item().unwrap()),
        (1, Item::InlineTable(4))
    );
}
