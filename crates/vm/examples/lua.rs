//! A native `lua` that behaves like `lua5.4 [-e CODE]... [FILE [ARGS]]` for stdout, stderr
//! and exit status: the conformance runner of the VM (golden corpus, official test suite).

use std::cell::RefCell;
use std::io::{BufWriter, Stdout, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lua_persist_vm::{Host, Lua, Step, Value};

/// Standard output, buffered, shared with `main` so it can flush before writing to stderr.
type Out = Rc<RefCell<BufWriter<Stdout>>>;

struct StdHost {
    out: Out,
    started: Instant,
}

impl Host for StdHost {
    fn write(&mut self, bytes: &[u8]) {
        let _ = self.out.borrow_mut().write_all(bytes);
    }

    fn warn(&mut self, message: &[u8]) {
        let _ = self.out.borrow_mut().flush();
        let mut err = std::io::stderr();
        let _ = err.write_all(b"Lua warning: ");
        let _ = err.write_all(message);
        let _ = err.write_all(b"\n");
    }

    fn clock(&mut self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn time(&mut self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    fn random_seed(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

const PROGNAME: &str = "lua";

fn usage() -> ExitCode {
    eprintln!("usage: {PROGNAME} [-e stat] [script [args]]");
    ExitCode::from(1)
}

/// Runs one chunk; on error prints `lua: msg` and the traceback, as lua.c does.
fn run(lua: &mut Lua, out: &Out, source: &[u8], chunk_name: &[u8], args: &[&[u8]]) -> bool {
    if let Err(e) = lua.start_chunk(source, chunk_name, args) {
        flush(out);
        eprintln!("{PROGNAME}: {}", String::from_utf8_lossy(&e.message));
        return false;
    }
    match lua.run() {
        Step::Done => true,
        Step::Error(e) => {
            flush(out);
            eprintln!("{PROGNAME}: {}\n{}", e.message, e.traceback);
            false
        }
        Step::Pending => unreachable!("run goes to the end"),
    }
}

fn flush(out: &Out) {
    let _ = out.borrow_mut().flush();
}

fn main() -> ExitCode {
    let args: Vec<Vec<u8>> = std::env::args_os()
        .map(|a| a.into_encoded_bytes())
        .collect();
    let out: Out = Rc::new(RefCell::new(BufWriter::new(std::io::stdout())));
    let host = StdHost {
        out: out.clone(),
        started: Instant::now(),
    };
    let mut lua = Lua::new(Box::new(host));

    // Options first (only -e here), then the script and its arguments.
    let mut i = 1;
    let mut statements = Vec::new();
    while i < args.len() && args[i].starts_with(b"-") {
        match args[i].as_slice() {
            b"-e" => {
                let Some(code) = args.get(i + 1) else {
                    return usage();
                };
                statements.push(code.clone());
                i += 2;
            }
            b"--" => {
                i += 1;
                break;
            }
            _ => return usage(),
        }
    }
    let script = args.get(i).cloned();
    lua.enter(|ctx| {
        let arg = ctx.new_table();
        for (n, a) in args.iter().enumerate() {
            arg.set_int(ctx.mc, n as i64 - i as i64, ctx.str_value(a));
        }
        ctx.globals()
            .set_str(ctx.mc, ctx.intern(b"arg"), Value::Table(arg));
    });

    for code in &statements {
        if !run(&mut lua, &out, code, b"=(command line)", &[]) {
            return exit(&out, 1);
        }
    }
    if let Some(path) = script {
        let source = match std::fs::read(std::ffi::OsStr::from_bytes(&path)) {
            Ok(s) => s,
            Err(_) => {
                flush(&out);
                eprintln!("{PROGNAME}: cannot open {}", String::from_utf8_lossy(&path));
                return exit(&out, 1);
            }
        };
        // A first line starting with '#' is skipped (kept as an empty line for numbering).
        let source = if source.first() == Some(&b'#') {
            let end = source
                .iter()
                .position(|&c| c == b'\n')
                .unwrap_or(source.len());
            source[end..].to_vec()
        } else {
            source
        };
        let mut name = b"@".to_vec();
        name.extend_from_slice(&path);
        let script_args: Vec<&[u8]> = args[i + 1..].iter().map(Vec::as_slice).collect();
        if !run(&mut lua, &out, &source, &name, &script_args) {
            return exit(&out, 1);
        }
    }
    exit(&out, 0)
}

fn exit(out: &Out, code: u8) -> ExitCode {
    flush(out);
    ExitCode::from(code)
}
