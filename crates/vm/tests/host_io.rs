//! The io, os and package libraries on the native runner's host (real files, commands,
//! environment): the scripts in `tests/io` against what Debian's lua5.4 did with them
//! (`tests/io/regen.sh`), then the runner's command line and `os.exit`.

#[path = "../examples/lua/cli.rs"]
mod cli;
#[path = "../examples/lua/host.rs"]
mod host;

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Mutex;

#[derive(Clone, Default)]
struct Capture(Rc<RefCell<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a run of the runner wrote and its exit status.
struct Run {
    out: String,
    err: String,
    status: i32,
}

/// The tests share the process's working directory, so they take turns.
static WORKING_DIRECTORY: Mutex<()> = Mutex::new(());

/// Runs `lua <args>` in `dir` with `stdin` as standard input.
fn lua_in(dir: &Path, args: &[&str], stdin: &[u8]) -> Run {
    let _turn = WORKING_DIRECTORY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    std::env::set_current_dir(dir).expect("the directory exists");
    let (out, err) = (Capture::default(), Capture::default());
    let streams = Rc::new(RefCell::new(host::Streams {
        out: Box::new(out.clone()),
        err: Box::new(err.clone()),
        input: Box::new(std::io::Cursor::new(stdin.to_vec())),
    }));
    let mut argv = vec![b"lua".to_vec()];
    argv.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    let status = cli::main_with(argv, streams, false);
    let text = |c: &Capture| String::from_utf8_lossy(&c.0.borrow()).into_owned();
    Run {
        out: text(&out),
        err: text(&err),
        status,
    }
}

fn lua(args: &[&str], stdin: &[u8]) -> Run {
    lua_in(&std::env::temp_dir(), args, stdin)
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/io")
}

fn without_addresses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = rest[at + 2..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(rest.len() - at - 2);
        out.push_str(if digits > 0 { "0xADDR" } else { "0x" });
        rest = &rest[at + 2 + digits..];
    }
    out.push_str(rest);
    out
}

/// Runs `tests/io/<name>.lua` and compares with lua5.4's stdout, stderr and status.
fn script_behaves_as_lua5_4(name: &str) {
    let dir = scripts_dir();
    let expected = |ext: &str| {
        std::fs::read_to_string(dir.join(format!("expected/{name}.{ext}"))).unwrap_or_default()
    };
    let stdin = std::fs::read(dir.join(format!("{name}.stdin"))).unwrap_or_default();
    let run = lua_in(&dir, &[&format!("{name}.lua")], &stdin);
    assert_eq!(
        without_addresses(&run.out),
        without_addresses(&expected("out")),
        "stdout of {name}.lua"
    );
    let want_err = expected("err").replace("lua5.4:", "lua:");
    assert_eq!(run.err, want_err, "stderr of {name}.lua");
    assert_eq!(
        run.status.to_string(),
        expected("status").trim(),
        "status of {name}.lua"
    );
}

#[test]
fn files_and_their_methods() {
    script_behaves_as_lua5_4("files");
}

#[test]
fn lines_loops() {
    script_behaves_as_lua5_4("lines");
}

#[test]
fn default_input_and_output() {
    script_behaves_as_lua5_4("defaults");
}

#[test]
fn require_and_package() {
    script_behaves_as_lua5_4("require");
}

#[test]
fn loadfile_and_dofile() {
    script_behaves_as_lua5_4("loadfile");
}

#[test]
fn os_files_commands_and_environment() {
    script_behaves_as_lua5_4("os");
}

/// A fresh temporary directory.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lua-persist-io-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn os_exit_ends_with_its_status_and_flushes_files() {
    let dir = temp_dir("exit");
    let file = dir.join("kept.txt");
    let code = format!(
        "io.output('{}'):write('kept') print('before') os.exit(3) print('after')",
        file.display()
    );
    let run = lua(&["-e", &code], b"");
    assert_eq!((run.out.as_str(), run.status), ("before\n", 3));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept");

    assert_eq!(lua(&["-e", "os.exit(true)"], b"").status, 0);
    assert_eq!(lua(&["-e", "os.exit(false)"], b"").status, 1);
    assert_eq!(lua(&["-e", "os.exit()"], b"").status, 0);
    let inside = lua(
        &[
            "-e",
            "coroutine.wrap(function() pcall(os.exit, 4) end)() print(1)",
        ],
        b"",
    );
    assert_eq!((inside.out.as_str(), inside.status), ("", 4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn os_exit_with_close_closes_variables_and_runs_finalizers() {
    let code = "setmetatable({}, {__gc = function() print('finalized') end}) \
                local x <close> = setmetatable({}, {__close = function(_, e) print('closed', e) end}) \
                os.exit(5, true)";
    let run = lua(&["-e", code], b"");
    assert_eq!(run.out, "closed\tnil\nfinalized\n");
    assert_eq!(run.status, 5);
    // Without `close`, neither happens.
    let run = lua(
        &["-e", &code.replace("os.exit(5, true)", "os.exit(5)")],
        b"",
    );
    assert_eq!((run.out.as_str(), run.status), ("", 5));
}

#[test]
fn c_modules_are_found_but_not_loaded() {
    let dir = temp_dir("cmod");
    std::fs::write(dir.join("native.so"), b"not a library").unwrap();
    let run = lua_in(
        &dir,
        &[
            "-e",
            "package.cpath = './?.so' print(pcall(require, 'native')) \
             print(pcall(require, 'native.sub')) print(package.loadlib('./native.so', 'f'))",
        ],
        b"",
    );
    assert_eq!(
        run.out,
        "false\terror loading module 'native' from file './native.so':\n\tC modules are not supported\n\
         false\terror loading module 'native.sub' from file './native.so':\n\tC modules are not supported\n\
         nil\tC modules are not supported\tabsent\n"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn standard_input_feeds_scripts_and_reads() {
    let run = lua(&["-", "a", "b"], b"print(..., arg[0], arg[-1])");
    assert_eq!(run.out, "a\t-\tlua\n");
    let run = lua(&[], b"print('no script: stdin')");
    assert_eq!(run.out, "no script: stdin\n");
    let run = lua(
        &[
            "-e",
            "print(io.read('n', 'l')) print(io.read('L')) print(io.read('a')) print(io.read())",
        ],
        b"42 rest\nsecond\nthe end",
    );
    assert_eq!(run.out, "42\t rest\nsecond\n\nthe end\nnil\n");
    let run = lua(&["-e", "print(loadfile()())"], b"return 'chunk from stdin'");
    assert_eq!(run.out, "chunk from stdin\n");
    let run = lua(&["-e", "io.stderr:write('to stderr\\n')"], b"");
    assert_eq!((run.out.as_str(), run.err.as_str()), ("", "to stderr\n"));
}

#[test]
fn command_line_options_are_lua_cs() {
    let run = lua(&["-v", "-e", "print(1)", "-W", "-e", "warn('w')"], b"");
    assert_eq!(
        run.out,
        "Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio\n1\n"
    );
    assert_eq!(run.err, "Lua warning: w\n");
    let run = lua(
        &[
            "-lstring",
            "-l",
            "t=table",
            "-e",
            "print(string == _G.string, t == table)",
        ],
        b"",
    );
    assert_eq!(run.out, "true\ttrue\n");
    let run = lua(&["-l", "no_such_module"], b"");
    assert_eq!(run.status, 1);
    assert!(run.err.starts_with(
        "lua: module 'no_such_module' not found:\n\tno field package.preload['no_such_module']\n"
    ));
    let run = lua(
        &["-E", "-e", "print(package.path == require('package').path)"],
        b"",
    );
    assert_eq!(run.out, "true\n");
    let run = lua(&["-x"], b"");
    assert_eq!(run.status, 1);
    assert!(run
        .err
        .starts_with("lua: unrecognized option '-x'\nusage: lua [options] [script [args]]\n"));
    let run = lua(&["-e"], b"");
    assert!(run.err.starts_with("lua: '-e' needs argument\n"));
    let run = lua(&["-e", "x="], b"");
    assert_eq!(
        (run.err.as_str(), run.status),
        ("lua: (command line):1: unexpected symbol near <eof>\n", 1)
    );
    let run = lua(&["-e", "arg = 1", "-"], b"");
    assert_eq!(run.err, "lua: 'arg' is not a table\n");
    let run = lua(&["no-such-script.lua"], b"");
    assert_eq!(
        run.err,
        "lua: cannot open no-such-script.lua: No such file or directory\n"
    );
    let run = lua(&["-e", "error({})"], b"");
    assert!(run
        .err
        .starts_with("lua: (error object is a table value)\n"));
}

#[test]
fn the_interactive_loop_prints_values_and_reports_errors() {
    let run = lua(
        &["-e", "_PROMPT='' _PROMPT2=''", "-i"],
        b"1 + 1\n=2 * 3\nx = \n10\nprint(x)\nerror('e')\nreturn 1, nil, 'z'\n",
    );
    assert_eq!(run.status, 0);
    assert_eq!(
        run.out,
        "Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio\n\
         1 + 1\n2\n=2 * 3\n6\nx = \n10\nprint(x)\n10\nerror('e')\nreturn 1, nil, 'z'\n1\tnil\tz\n\n"
    );
    assert!(run.err.starts_with("stdin:1: e\nstack traceback:\n"));
}
