//! The io, os and package libraries on hosts other than the native runner's: a sandbox that
//! keeps every default of `Host` (no files, no commands, no environment), and an in-memory
//! file system of the kind a JavaScript host plugs in.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use vm::{
    ExitRequest, Host, HostError, HostFile, HostResult, Lua, OpenMode, ProcessEnd, Step, Whence,
};

type Shared = Rc<RefCell<Vec<u8>>>;

/// A host with only what the trait requires: everything else is its default.
struct Sandbox {
    out: Shared,
}

impl Host for Sandbox {
    fn write(&mut self, bytes: &[u8]) {
        self.out.borrow_mut().extend_from_slice(bytes);
    }
    fn warn(&mut self, _: &[u8]) {}
    fn clock(&mut self) -> f64 {
        0.0
    }
    fn time(&mut self) -> i64 {
        0
    }
    fn random_seed(&mut self) -> u64 {
        0
    }
}

/// Runs `source` on `host`; what it printed and how the run ended.
fn run_on(host: impl Host + 'static, out: &Shared, source: &str) -> (String, Step) {
    let mut lua = Lua::new(Box::new(host));
    lua.enter(lua_persist_stdlib::open);
    lua.start_chunk(source.as_bytes(), b"=test", &[])
        .expect("the test compiles");
    let step = lua.run();
    let printed = String::from_utf8_lossy(&out.borrow()).into_owned();
    (printed, step)
}

fn sandboxed(source: &str) -> String {
    let out = Shared::default();
    let (printed, step) = run_on(Sandbox { out: out.clone() }, &out, source);
    match step {
        Step::Done => printed,
        Step::Error(e) => panic!("{}\n{}", e.message, e.traceback),
        other => panic!("unexpected end: {other:?}"),
    }
}

#[test]
fn standard_output_is_shared_by_print_and_io_write() {
    assert_eq!(
        sandboxed(
            "io.write('a') print('b') io.write('c', 1, ' ', 2.5, '\\n') io.stdout:write('d\\n')"
        ),
        "ab\nc1 2.5\nd\n"
    );
}

#[test]
fn files_fail_the_lua_way() {
    let printed = sandboxed(
        "print(io.open('data.txt'))
         print(io.open('data.txt', 'w'))
         print(io.tmpfile())
         print(io.popen('ls'))
         print(pcall(io.lines, 'data.txt'))
         print(pcall(io.input, 'data.txt'))
         print(os.remove('data.txt'))
         print(os.rename('a', 'b'))
         print(pcall(os.tmpname))
         print(loadfile('chunk.lua'))
         print(pcall(dofile, 'chunk.lua'))
         print(pcall(io.open, 'data.txt', 'rw'))",
    );
    assert_eq!(
        printed,
        "nil\tdata.txt: not available in this sandbox\t38\n\
         nil\tdata.txt: not available in this sandbox\t38\n\
         nil\tnot available in this sandbox\t38\n\
         nil\tls: not available in this sandbox\t38\n\
         false\tcannot open file 'data.txt' (not available in this sandbox)\n\
         false\tcannot open file 'data.txt' (not available in this sandbox)\n\
         nil\tdata.txt: not available in this sandbox\t38\n\
         nil\tnot available in this sandbox\t38\n\
         false\tunable to generate a unique filename\n\
         nil\tcannot open chunk.lua: not available in this sandbox\n\
         false\tcannot open chunk.lua: not available in this sandbox\n\
         false\tbad argument #2 to 'io.open' (invalid mode)\n"
    );
}

#[test]
fn commands_environment_and_standard_streams_are_absent() {
    let printed = sandboxed(
        "print(os.execute())
         print(os.execute('ls'))
         print(os.getenv('HOME'))
         print(io.read(), io.read('a'), io.read(0), io.read('n'))
         print(io.type(io.stderr:write('dropped')))
         print(io.lines()())
         print(package.path == package.path:gsub(';;', ''))",
    );
    assert_eq!(
        printed,
        "false\nnil\tnot available in this sandbox\t38\nnil\nnil\t\tnil\tnil\nfile\n\ntrue\n"
    );
}

#[test]
fn require_finds_preloaded_modules_and_reports_the_rest() {
    let printed = sandboxed(
        "package.preload.greet = function(name, data) return {name = name, data = data} end
         local m, data = require('greet')
         print(m.name, m.data, data, require('greet') == m)
         package.path = '?.lua'
         package.cpath = ''
         print(pcall(require, 'missing'))
         print(require('string') == string, require('io') == io)",
    );
    assert_eq!(
        printed,
        "greet\t:preload:\t:preload:\ttrue\n\
         false\tmodule 'missing' not found:\n\
         \tno field package.preload['missing']\n\
         \tno file 'missing.lua'\n\
         \tno file ''\n\
         true\ttrue\n"
    );
}

#[test]
fn os_exit_ends_the_run_with_its_request() {
    for (source, code, close) in [
        ("os.exit(7)", 7, false),
        ("os.exit(true, true)", 0, true),
        ("os.exit(false)", 1, false),
        (
            "coroutine.wrap(function() pcall(os.exit, 2) end)() print('not here')",
            2,
            false,
        ),
    ] {
        let out = Shared::default();
        let (printed, step) = run_on(Sandbox { out: out.clone() }, &out, source);
        match step {
            Step::Exit(exit) => assert_eq!(exit, ExitRequest { code, close }, "{source}"),
            other => panic!("{source}: {other:?}"),
        }
        assert_eq!(printed, "", "{source}");
    }
}

/// Files kept in memory, by name.
type Files = Rc<RefCell<BTreeMap<Vec<u8>, Shared>>>;

/// A host with a file system in memory, an environment and standard input, as a JavaScript
/// host would give them.
struct MemoryHost {
    out: Shared,
    files: Files,
    env: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Standard input in pieces; `None` is a moment at which a read would block.
    stdin: VecDeque<Option<Vec<u8>>>,
}

impl Host for MemoryHost {
    fn write(&mut self, bytes: &[u8]) {
        self.out.borrow_mut().extend_from_slice(bytes);
    }
    fn warn(&mut self, _: &[u8]) {}
    fn clock(&mut self) -> f64 {
        0.0
    }
    fn time(&mut self) -> i64 {
        0
    }
    fn random_seed(&mut self) -> u64 {
        0
    }

    fn read_stdin(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        match self.stdin.front_mut() {
            None => Ok(0),
            Some(None) => {
                self.stdin.pop_front();
                Err(HostError::new("would block", HostError::WOULD_BLOCK))
            }
            Some(Some(piece)) => {
                let n = buf.len().min(piece.len());
                buf[..n].copy_from_slice(&piece[..n]);
                piece.drain(..n);
                if piece.is_empty() {
                    self.stdin.pop_front();
                }
                Ok(n)
            }
        }
    }

    fn open(&mut self, path: &[u8], mode: OpenMode) -> HostResult<Box<dyn HostFile>> {
        let mut files = self.files.borrow_mut();
        let data = match (files.get(path), mode) {
            (Some(data), OpenMode::Write | OpenMode::WriteUpdate) => {
                data.borrow_mut().clear();
                data.clone()
            }
            (Some(data), _) => data.clone(),
            (None, OpenMode::Read | OpenMode::ReadUpdate) => {
                return Err(HostError::new("No such file or directory", 2))
            }
            (None, _) => files.entry(path.to_vec()).or_default().clone(),
        };
        let append = matches!(mode, OpenMode::Append | OpenMode::AppendUpdate);
        Ok(Box::new(MemoryFile {
            data,
            at: 0,
            append,
        }))
    }

    fn remove(&mut self, path: &[u8]) -> HostResult<()> {
        match self.files.borrow_mut().remove(path) {
            Some(_) => Ok(()),
            None => Err(HostError::new("No such file or directory", 2)),
        }
    }

    fn rename(&mut self, from: &[u8], to: &[u8]) -> HostResult<()> {
        let mut files = self.files.borrow_mut();
        let data = files
            .remove(from)
            .ok_or_else(|| HostError::new("No such file or directory", 2))?;
        files.insert(to.to_vec(), data);
        Ok(())
    }

    fn getenv(&mut self, name: &[u8]) -> Option<Vec<u8>> {
        self.env.get(name).cloned()
    }
}

struct MemoryFile {
    data: Shared,
    at: usize,
    append: bool,
}

impl HostFile for MemoryFile {
    fn read(&mut self, buf: &mut [u8]) -> HostResult<usize> {
        let data = self.data.borrow();
        let rest = data.get(self.at..).unwrap_or_default();
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.at += n;
        Ok(n)
    }

    fn write(&mut self, bytes: &[u8]) -> HostResult<()> {
        let mut data = self.data.borrow_mut();
        if self.append {
            self.at = data.len();
        }
        let end = self.at + bytes.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[self.at..end].copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }

    fn seek(&mut self, whence: Whence, offset: i64) -> HostResult<u64> {
        let from = match whence {
            Whence::Set => 0,
            Whence::Cur => self.at as i64,
            Whence::End => self.data.borrow().len() as i64,
        };
        let to = from
            .checked_add(offset)
            .filter(|&to| to >= 0)
            .ok_or_else(HostError::invalid_argument)?;
        self.at = to as usize;
        Ok(to as u64)
    }

    fn close(self: Box<Self>) -> HostResult<Option<ProcessEnd>> {
        Ok(None)
    }
}

fn in_memory(files: &[(&str, &str)], env: &[(&str, &str)], stdin: &str, source: &str) -> String {
    let out = Shared::default();
    let host = MemoryHost {
        out: out.clone(),
        files: Files::default(),
        env: env
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        stdin: VecDeque::from([Some(stdin.as_bytes().to_vec())]),
    };
    for (name, text) in files {
        host.files.borrow_mut().insert(
            name.as_bytes().to_vec(),
            Rc::new(RefCell::new(text.as_bytes().to_vec())),
        );
    }
    let (printed, step) = run_on(host, &out, source);
    match step {
        Step::Done => printed,
        Step::Error(e) => panic!("{}\n{}", e.message, e.traceback),
        other => panic!("unexpected end: {other:?}"),
    }
}

#[test]
fn a_memory_file_system_serves_io() {
    let printed = in_memory(
        &[("notes.txt", "first\nsecond 42\n")],
        &[],
        "typed line\n",
        "for l in io.lines('notes.txt') do print(l) end
         local f = assert(io.open('notes.txt', 'a+'))
         f:write('third\\n')
         f:seek('set')
         print(f:read('l', 'l', 'n', 'L', 'l', 'l'))
         f:close()
         print(io.open('absent.txt'))
         print(os.rename('notes.txt', 'moved.txt'), io.open('notes.txt'))
         print(io.open('moved.txt'):read('a'))
         print(os.remove('moved.txt'), os.remove('moved.txt'))
         print(io.read('L'), io.read())",
    );
    assert_eq!(
        printed,
        "first\nsecond 42\n\
         first\tsecond 42\tnil\n\
         nil\tabsent.txt: No such file or directory\t2\n\
         true\tnil\tnotes.txt: No such file or directory\t2\n\
         first\nsecond 42\nthird\n\n\
         true\tnil\tmoved.txt: No such file or directory\t2\n\
         typed line\n\tnil\n"
    );
}

#[test]
fn modules_load_from_the_path_the_environment_gives() {
    let printed = in_memory(
        &[
            (
                "lib/greet.lua",
                "local name, file = ... return 'hello from ' .. name .. ' in ' .. file",
            ),
            ("lib/tools/init.lua", "return {answer = 42}"),
            ("main.lua", "return 'main ran'"),
        ],
        &[
            ("LUA_PATH_5_4", "lib/?.lua;lib/?/init.lua"),
            ("LUA_PATH", "ignored/?.lua"),
        ],
        "",
        "print(package.path)
         print(require('greet'))
         print(require('tools').answer)
         print(dofile('main.lua'), loadfile('main.lua', 'b'))
         print(select(2, pcall(require, 'absent')))",
    );
    assert_eq!(
        printed,
        "lib/?.lua;lib/?/init.lua\n\
         hello from greet in lib/greet.lua\tlib/greet.lua\n\
         42\n\
         main ran\tnil\tattempt to load a text chunk (mode is 'b')\n\
         module 'absent' not found:\n\
         \tno field package.preload['absent']\n\
         \tno file 'lib/absent.lua'\n\
         \tno file 'lib/absent/init.lua'\n\
         \tno file '/usr/local/lib/lua/5.4/absent.so'\n\
         \tno file '/usr/lib/x86_64-linux-gnu/lua/5.4/absent.so'\n\
         \tno file '/usr/lib/lua/5.4/absent.so'\n\
         \tno file '/usr/local/lib/lua/5.4/loadall.so'\n\
         \tno file './absent.so'\n"
    );
}

#[test]
fn a_double_semicolon_in_the_environment_stands_for_the_default_path() {
    let printed = in_memory(
        &[],
        &[("LUA_PATH", "first/?.lua;;last/?.lua"), ("LUA_CPATH", ";;")],
        "",
        "print(package.path) print(package.cpath)",
    );
    let path = lua_persist_stdlib::package::DEFAULT_PATH;
    let cpath = lua_persist_stdlib::package::DEFAULT_CPATH;
    assert_eq!(printed, format!("first/?.lua;{path};last/?.lua\n{cpath}\n"));
}

/// Standard input that has nothing yet between its pieces (`None`): reads wait for the
/// embedder and then read again from where they started.
#[test]
fn a_read_that_would_block_waits_and_reads_again_from_its_start() {
    let out = Shared::default();
    let pieces = [
        Some("12 0x1"),
        None,
        Some("0 3.5e2\nab"),
        None,
        Some("c\nlast"),
        None,
    ];
    let mut lua = Lua::new(Box::new(MemoryHost {
        out: out.clone(),
        files: Files::default(),
        env: BTreeMap::new(),
        stdin: pieces
            .iter()
            .map(|p| p.map(|p| p.as_bytes().to_vec()))
            .collect(),
    }));
    lua.enter(lua_persist_stdlib::open);
    let source = r#"local a, b, c = io.read("n", "n", "n")
        local l1, l2 = io.read("l", "L")
        print(a, b, c, l1, l2, io.read("a"))"#;
    lua.start_chunk(source.as_bytes(), b"=test", &[])
        .expect("the test compiles");
    let mut waits = 0;
    loop {
        match lua.step(1000) {
            Step::Pending => {
                if let Some((args, _)) = lua
                    .host_args(|_, values| format!("{:?}", values.first().map(|v| v.type_name())))
                {
                    assert_eq!(args, "Some(\"number\")");
                    waits += 1;
                    assert!(lua.host_return(|_| Ok(Vec::new())));
                }
            }
            Step::Done => break,
            other => panic!("unexpected end: {other:?}"),
        }
    }
    assert_eq!(waits, 3);
    assert_eq!(
        String::from_utf8_lossy(&out.borrow()),
        "12\t16\t350.0\t\tabc\n\tlast\n"
    );
}
