//! What the engine passes between scripts and the host beyond tables: `os.exit`, a chunk's
//! arguments, results handed to `print`, standard error and input, the environment, and
//! files (refused by a host without them).

use std::cell::RefCell;
use std::rc::Rc;

use lua_persist_engine::codec::{Item, Reader};
use lua_persist_engine::{Engine, ErrorKind, Host, HostError, MemoryHost};

/// A [`MemoryHost`] with standard input, standard error and an environment.
#[derive(Default)]
struct StreamsHost {
    tables: MemoryHost,
    input: RefCell<Vec<u8>>,
    errors: RefCell<Vec<u8>>,
}

impl Host for StreamsHost {
    fn table_set(&self, id: u32, key: &[u8], value: &[u8]) -> Result<(), HostError> {
        self.tables.table_set(id, key, value)
    }
    fn table_get(&self, id: u32, key: &[u8], out: &mut Vec<u8>) -> Result<bool, HostError> {
        self.tables.table_get(id, key, out)
    }
    fn table_delete(&self, id: u32, key: &[u8]) -> Result<(), HostError> {
        self.tables.table_delete(id, key)
    }
    fn table_size(&self, id: u32) -> Result<u32, HostError> {
        self.tables.table_size(id)
    }
    fn table_page(
        &self,
        id: u32,
        after: &[u8],
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Result<bool, HostError> {
        self.tables.table_page(id, after, limit, out)
    }
    fn table_keys(&self, id: u32, out: &mut Vec<u8>) -> Result<(), HostError> {
        self.tables.table_keys(id, out)
    }
    fn write_output(&self, bytes: &[u8]) {
        self.tables.write_output(bytes)
    }
    fn now_ms(&self) -> f64 {
        self.tables.now_ms()
    }
    fn clock_ms(&self) -> f64 {
        self.tables.clock_ms()
    }
    fn fill_random(&self, buf: &mut [u8]) {
        self.tables.fill_random(buf)
    }
    fn write_error(&self, bytes: &[u8]) {
        self.errors.borrow_mut().extend_from_slice(bytes);
    }
    fn read_input(&self, buf: &mut [u8]) -> vm::HostResult<usize> {
        // A few bytes at a time, as a pipe may give them.
        let mut input = self.input.borrow_mut();
        let n = buf.len().min(input.len()).min(3);
        buf[..n].copy_from_slice(&input[..n]);
        input.drain(..n);
        Ok(n)
    }
    fn getenv(&self, name: &[u8]) -> Option<Vec<u8>> {
        (name == b"GREETING").then(|| b"hello".to_vec())
    }
}

fn strings(result: &[u8]) -> Vec<String> {
    let mut r = Reader::new(result);
    let n = r.u32().unwrap();
    (0..n)
        .map(|_| match r.item().unwrap() {
            Item::String(s) => String::from_utf8_lossy(s).into_owned(),
            Item::Integer(i) => i.to_string(),
            Item::Nil => "nil".into(),
            Item::Boolean(b) => b.to_string(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn os_exit_ends_the_run_with_its_status_and_the_engine_goes_on() {
    let mut e = Engine::new(Rc::new(MemoryHost::default()));
    for (code, status) in [
        ("os.exit(3)", "3"),
        ("os.exit(true)", "0"),
        ("os.exit(false)", "1"),
        ("os.exit()", "0"),
        ("pcall(os.exit, 9, true)", "9"),
    ] {
        let failure = e.compute("=input", code.as_bytes()).unwrap_err();
        assert_eq!(failure.kind, ErrorKind::Exit, "{code}");
        assert_eq!(failure.message, status, "{code}");
    }
    assert_eq!(strings(&e.compute("=input", b"return 1").unwrap()), ["1"]);
}

#[test]
fn chunk_arguments_reach_one_chunk_only() {
    let mut e = Engine::new(Rc::new(MemoryHost::default()));
    e.set_chunk_args(vec![b"a".to_vec(), b"b\0c".to_vec()]);
    let got = strings(
        &e.compute("=input", b"return select('#', ...), ...")
            .unwrap(),
    );
    assert_eq!(got, ["2", "a", "b\0c"]);
    assert_eq!(
        strings(&e.compute("=input", b"return select('#', ...)").unwrap()),
        ["0"]
    );
}

#[test]
fn results_handed_to_print_stay_in_lua() {
    let host = Rc::new(MemoryHost::default());
    let mut e = Engine::new(host.clone());
    e.print_next_results();
    let result = e
        .compute("=stdin", b"return 1, nil, 'x', _G == _G, _G")
        .unwrap();
    assert_eq!(strings(&result), Vec::<String>::new());
    let printed = String::from_utf8(host.take_output()).unwrap();
    assert!(printed.starts_with("1\tnil\tx\ttrue\ttable: "), "{printed}");
    // No values: nothing printed. The request was for one chunk only.
    e.print_next_results();
    e.compute("=stdin", b"x = 1").unwrap();
    assert_eq!(host.take_output(), b"");
    assert_eq!(strings(&e.compute("=stdin", b"return 2").unwrap()), ["2"]);
    e.print_next_results();
    let failure = e.compute("=stdin", b"print = nil return 1").unwrap_err();
    assert_eq!(failure.kind, ErrorKind::Runtime);
    assert_eq!(
        failure.message,
        "error calling 'print' (attempt to call a nil value)"
    );
}

#[test]
fn standard_streams_and_the_environment_come_from_the_host() {
    let host = Rc::new(StreamsHost::default());
    *host.input.borrow_mut() = b"12 3.5 first line\nsecond\nthird\nrest".to_vec();
    let mut e = Engine::new(host.clone());
    let code = br#"
        local n, f, l = io.read("n", "n", "l")
        local L = io.read("L")
        local lines = {}
        for line in io.lines() do lines[#lines + 1] = line end
        io.stderr:write("to stderr")
        io.write("to stdout")
        warn("@on") warn("careful")
        return n, f, l, L, table.concat(lines, "|"), io.read("a"), io.read("l"),
            os.getenv("GREETING"), os.getenv("OTHER")
    "#;
    let got = strings(&e.compute("=input", code).unwrap());
    assert_eq!(
        got,
        [
            "12",
            "Float(3.5)",
            " first line",
            "second\n",
            "third|rest",
            "",
            "nil",
            "hello",
            "nil"
        ]
    );
    assert_eq!(host.tables.take_output(), b"to stdout");
    assert_eq!(&*host.errors.borrow(), b"to stderrLua warning: careful\n");
}

#[test]
fn a_host_without_files_refuses_them_as_lua_reports_failures() {
    let mut e = Engine::new(Rc::new(MemoryHost::default()));
    let code = br#"
        local _, open, code = io.open("data.txt")
        return open, code, select(2, os.remove("x")), select(2, pcall(require, "nomod")):match("no file '%./nomod%.lua'") ~= nil
    "#;
    let got = strings(&e.compute("=input", code).unwrap());
    assert_eq!(
        got,
        [
            "data.txt: not available in this sandbox",
            "38",
            "x: not available in this sandbox",
            "true"
        ]
    );
}

#[test]
fn binary_chunks_run_when_the_host_allows_them() {
    let mut e = Engine::new(Rc::new(MemoryHost::default()));
    let dumped = e
        .compute(
            "=input",
            b"return string.dump(function(...) return 'dumped', ... end)",
        )
        .unwrap();
    let mut r = Reader::new(&dumped);
    r.u32().unwrap();
    let Item::String(chunk) = r.item().unwrap() else {
        panic!("a string")
    };
    let chunk = chunk.to_vec();
    assert_eq!(
        e.compute("=input", &chunk).unwrap_err().kind,
        ErrorKind::Syntax
    );
    e.set_binary_chunks(true);
    e.set_chunk_args(vec![b"arg".to_vec()]);
    assert_eq!(
        strings(&e.compute("=input", &chunk).unwrap()),
        ["dumped", "arg"]
    );
    let mut damaged = chunk.clone();
    damaged.truncate(chunk.len() / 2);
    assert_eq!(
        e.compute("=input", &damaged).unwrap_err().kind,
        ErrorKind::Syntax
    );
}
