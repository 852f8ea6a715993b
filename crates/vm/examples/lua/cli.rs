//! lua5.4's command line (`lua.c`): options, the `arg` table, `LUA_INIT`, the script or
//! standard input, the interactive loop, and lua5.4's reports and exit statuses.

use std::io::Write;

use lua_persist_vm::{Ctx, ExitRequest, Lua, Step, Value};
use stdlib::{io, load_file, package};

use super::host::{SharedStreams, StdHost};

const VERSION: &str = "Lua 5.4.4  Copyright (C) 1994-2022 Lua.org, PUC-Rio";

const USAGE: &str = "usage: %s [options] [script [args]]
Available options are:
  -e stat   execute string 'stat'
  -i        enter interactive mode after executing 'script'
  -l mod    require library 'mod' into global 'mod'
  -l g=mod  require library 'mod' into global 'g'
  -v        show version information
  -E        ignore environment variables
  -W        turn warnings on
  --        stop handling options
  -         stop handling options and execute stdin
";

/// What the options ask for.
#[derive(Default)]
struct Options {
    version: bool,
    interactive: bool,
    execute: bool,
    ignore_env: bool,
    /// Index of the script in the arguments (0: none).
    script: usize,
}

/// Reads the options as `lua.c` does; the error is the index of the bad one.
fn collect_options(args: &[Vec<u8>]) -> Result<Options, usize> {
    let mut o = Options::default();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a.first() != Some(&b'-') {
            o.script = i;
            return Ok(o);
        }
        let extra = a.len() > 2;
        match a.get(1) {
            None => {
                o.script = i;
                return Ok(o);
            }
            Some(b'-') if !extra => {
                o.script = if i + 1 < args.len() { i + 1 } else { 0 };
                return Ok(o);
            }
            Some(b'E') if !extra => o.ignore_env = true,
            Some(b'W') if !extra => {}
            Some(b'i') if !extra => {
                o.interactive = true;
                o.version = true;
            }
            Some(b'v') if !extra => o.version = true,
            Some(c @ (b'e' | b'l')) => {
                o.execute |= *c == b'e';
                if !extra {
                    i += 1;
                    let has_value = args.get(i).is_some_and(|next| next.first() != Some(&b'-'));
                    if !has_value {
                        return Err(i - 1);
                    }
                }
            }
            _ => return Err(i),
        }
        i += 1;
    }
    Ok(o)
}

/// How running something ended.
enum Ended {
    Ok,
    /// An error, already reported.
    Failed,
    Exit(ExitRequest),
}

struct Runner {
    lua: Lua,
    streams: SharedStreams,
    progname: Vec<u8>,
    /// Lines read by the interactive loop are shown again, as Debian's readline shows them
    /// when standard input is not a terminal (a terminal shows them itself).
    echo: bool,
}

impl Runner {
    /// `progname: message` on standard error (`l_message`).
    fn message(&self, message: &[u8]) {
        let mut line = Vec::new();
        if !self.progname.is_empty() {
            line.extend_from_slice(&self.progname);
            line.extend_from_slice(b": ");
        }
        line.extend_from_slice(message);
        line.push(b'\n');
        self.streams.borrow_mut().report(&line);
    }

    /// Runs what [`Lua::start`] prepared and reports an error with its traceback.
    fn run(&mut self) -> Ended {
        match self.lua.run() {
            Step::Done => Ended::Ok,
            Step::Error(e) => {
                let mut text = e.message.into_bytes();
                if !e.traceback.is_empty() {
                    text.push(b'\n');
                    text.extend_from_slice(e.traceback.as_bytes());
                }
                self.message(&text);
                Ended::Failed
            }
            Step::Exit(exit) => Ended::Exit(exit),
            Step::Pending => unreachable!("run goes to the end"),
        }
    }

    /// Prepares a call with `setup` and runs it; a failure to prepare is reported as is.
    fn call<F>(&mut self, setup: F) -> Ended
    where
        F: for<'gc> FnOnce(Ctx<'gc>) -> Result<(Value<'gc>, Vec<Value<'gc>>), Vec<u8>>,
    {
        let mut failure = None;
        self.lua.start(|ctx| {
            setup(ctx).unwrap_or_else(|message| {
                failure = Some(message);
                (Value::Nil, Vec::new())
            })
        });
        match failure {
            Some(message) => {
                self.message(&message);
                Ended::Failed
            }
            None => self.run(),
        }
    }

    /// Runs a chunk of source text (`dostring`).
    fn run_string(&mut self, source: &[u8], chunk_name: &[u8]) -> Ended {
        self.call(|ctx| {
            let f = ctx.load(source, chunk_name, None).map_err(|e| e.message)?;
            Ok((Value::from(f), Vec::new()))
        })
    }

    /// Runs a file, or standard input for `None` (`dofile`).
    fn run_file(&mut self, path: Option<&[u8]>) -> Ended {
        self.call(|ctx| {
            let f = load_file::load_file(ctx, path, b"bt", None)?;
            Ok((Value::from(f), Vec::new()))
        })
    }

    /// Runs the script with the positive entries of the global `arg` as its arguments.
    fn run_script(&mut self, path: Option<&[u8]>) -> Ended {
        self.call(|ctx| {
            let f = load_file::load_file(ctx, path, b"bt", None)?;
            let Value::Table(arg) = ctx.globals().get_str(ctx.intern(b"arg")) else {
                return Err(b"'arg' is not a table".to_vec());
            };
            let args = (1..=arg.length()).map(|i| arg.get_int(i)).collect();
            Ok((Value::from(f), args))
        })
    }

    /// `-l mod` and `-l g=mod`: `g = require(mod)`.
    fn require(&mut self, spec: &[u8]) -> Ended {
        let (global, module) = match spec.iter().position(|&c| c == b'=') {
            Some(at) => (&spec[..at], &spec[at + 1..]),
            None => (spec, spec),
        };
        let ended = self.call(|ctx| {
            let require = ctx.globals().get_str(ctx.intern(b"require"));
            Ok((require, vec![ctx.str_value(module)]))
        });
        if let Ended::Ok = ended {
            self.lua.results(|ctx, results| {
                let module = results.first().copied().unwrap_or_default();
                ctx.globals().set_str(ctx.mc, ctx.intern(global), module);
            });
        }
        ended
    }

    /// `LUA_INIT_5_4` or `LUA_INIT`: a chunk, or `@file`.
    fn run_init(&mut self) -> Ended {
        let found = ["LUA_INIT_5_4", "LUA_INIT"]
            .into_iter()
            .find_map(|name| std::env::var_os(name).map(|v| (name, v.into_encoded_bytes())));
        match found {
            None => Ended::Ok,
            Some((_, init)) if init.first() == Some(&b'@') => self.run_file(Some(&init[1..])),
            Some((name, init)) => self.run_string(&init, format!("={name}").as_bytes()),
        }
    }

    /// Runs `-e`, `-l` and `-W` in order.
    fn run_options(&mut self, args: &[Vec<u8>], end: usize) -> Ended {
        let mut i = 1;
        while i < end {
            let a = &args[i];
            match a.get(1) {
                Some(&option @ (b'e' | b'l')) => {
                    let value = if a.len() > 2 {
                        a[2..].to_vec()
                    } else {
                        i += 1;
                        args[i].clone()
                    };
                    let ended = if option == b'e' {
                        self.run_string(&value, b"=(command line)")
                    } else {
                        self.require(&value)
                    };
                    if !matches!(ended, Ended::Ok) {
                        return ended;
                    }
                }
                Some(b'W') => self.lua.enter(|ctx| ctx.warn(b"@on", true)),
                _ => {}
            }
            i += 1;
        }
        Ended::Ok
    }

    fn print_version(&self) {
        let mut streams = self.streams.borrow_mut();
        let _ = writeln!(streams.out, "{VERSION}");
        let _ = streams.out.flush();
    }

    /// The interactive loop: each line (or the lines that complete a statement) runs, and
    /// what an expression or `return` gives is printed. Errors are reported without the
    /// program's name, as lua.c does.
    fn repl(&mut self) -> Ended {
        let progname = std::mem::take(&mut self.progname);
        let mut ended = Ended::Ok;
        while let Some(chunk) = self.read_statement() {
            let ran = self.call(|ctx| {
                let f = ctx.load(&chunk, b"=stdin", None).map_err(|e| e.message)?;
                Ok((Value::from(f), Vec::new()))
            });
            match ran {
                Ended::Ok => self.print_results(),
                Ended::Failed => {}
                exit @ Ended::Exit(_) => {
                    ended = exit;
                    break;
                }
            }
        }
        if !matches!(ended, Ended::Exit(_)) {
            let _ = writeln!(self.streams.borrow_mut().out);
        }
        self.progname = progname;
        ended
    }

    /// Prints the values a statement returned through the global `print`.
    fn print_results(&mut self) {
        const RESULTS: &[u8] = b"lua.c results";
        let any = self.lua.results(|ctx, values| {
            let t = ctx.new_table();
            for (i, &v) in values.iter().enumerate() {
                t.set_int(ctx.mc, i as i64 + 1, v);
            }
            t.set_str(
                ctx.mc,
                ctx.intern(b"n"),
                Value::Integer(values.len() as i64),
            );
            ctx.registry()
                .set_str(ctx.mc, ctx.intern(RESULTS), Value::Table(t));
            !values.is_empty()
        });
        if !any {
            return;
        }
        self.lua.start(|ctx| {
            let key = ctx.intern(RESULTS);
            let Value::Table(t) = ctx.registry().get_str(key) else {
                unreachable!("the results were just stored")
            };
            ctx.registry().set_str(ctx.mc, key, Value::Nil);
            let n = match t.get_str(ctx.intern(b"n")) {
                Value::Integer(n) => n,
                _ => 0,
            };
            let values = (1..=n).map(|i| t.get_int(i)).collect();
            (ctx.globals().get_str(ctx.intern(b"print")), values)
        });
        if let Step::Error(e) = self.lua.run() {
            self.message(format!("error calling 'print' ({})", e.message).as_bytes());
        }
    }

    /// The prompt `_PROMPT` (or `_PROMPT2` for a continuation line) asks for.
    fn prompt(&mut self, first: bool) -> Vec<u8> {
        let (name, default) = if first {
            (&b"_PROMPT"[..], &b"> "[..])
        } else {
            (&b"_PROMPT2"[..], &b">> "[..])
        };
        let mut text = default.to_vec();
        let prompt = self
            .lua
            .enter(|ctx| ctx.globals().get_str(ctx.intern(name)).is_nil());
        if !prompt {
            // Any value goes through `tostring`, as lua.c's `luaL_tolstring` does.
            let ended = self.call(|ctx| {
                let tostring = ctx.globals().get_str(ctx.intern(b"tostring"));
                Ok((tostring, vec![ctx.globals().get_str(ctx.intern(name))]))
            });
            if let Ended::Ok = ended {
                self.lua.results(|_, values| {
                    if let Some(Value::String(s)) = values.first() {
                        text = s.as_bytes().to_vec();
                    }
                });
            }
        }
        text
    }

    /// A line of standard input after the prompt, read through the buffer `io.read` uses
    /// so that statements and the scripts they run take turns on the same input.
    fn read_line(&mut self, first: bool) -> Option<Vec<u8>> {
        let prompt = self.prompt(first);
        {
            let mut streams = self.streams.borrow_mut();
            let _ = streams.out.write_all(&prompt);
            let _ = streams.out.flush();
        }
        let line = self
            .lua
            .enter(|ctx| io::read_stdin_line(ctx, false))
            .ok()
            .flatten()?;
        if self.echo {
            let mut streams = self.streams.borrow_mut();
            let _ = streams.out.write_all(&line);
            let _ = streams.out.write_all(b"\n");
        }
        Some(line)
    }

    /// A line as `return <line>;` when that compiles, else lines until they make a
    /// statement (or a syntax error that more lines cannot fix).
    fn read_statement(&mut self) -> Option<Vec<u8>> {
        let mut line = self.read_line(true)?;
        if line.first() == Some(&b'=') {
            line = [&b"return "[..], &line[1..]].concat();
        }
        let as_return = [&b"return "[..], &line, b";"].concat();
        if self
            .lua
            .enter(|ctx| ctx.load(&as_return, b"=stdin", None).is_ok())
        {
            return Some(as_return);
        }
        loop {
            let error = self
                .lua
                .enter(|ctx| ctx.load(&line, b"=stdin", None).err().map(|e| e.message));
            match error {
                Some(message) if message.ends_with(b"<eof>") => match self.read_line(false) {
                    Some(more) => {
                        line.push(b'\n');
                        line.extend_from_slice(&more);
                    }
                    None => return Some(line),
                },
                _ => return Some(line),
            }
        }
    }
}

/// Runs the command line `args` (`args[0]` is the program's name) on `streams`; the exit
/// status. `interactive`: standard input is a terminal.
pub fn main_with(args: Vec<Vec<u8>>, streams: SharedStreams, interactive: bool) -> i32 {
    let progname = match args.first() {
        Some(name) if !name.is_empty() => name.clone(),
        _ => b"lua".to_vec(),
    };
    let options = match collect_options(&args) {
        Ok(o) => o,
        Err(bad) => {
            let bad = String::from_utf8_lossy(&args[bad]).into_owned();
            let shown = String::from_utf8_lossy(&progname).into_owned();
            let problem = if matches!(bad.as_bytes().get(1), Some(b'e' | b'l')) {
                format!("'{bad}' needs argument")
            } else {
                format!("unrecognized option '{bad}'")
            };
            let text = format!("{shown}: {problem}\n{}", USAGE.replace("%s", &shown));
            streams.borrow_mut().report(text.as_bytes());
            return 1;
        }
    };
    let lua = Lua::new(Box::new(StdHost::new(streams.clone())));
    lua.enter(stdlib::open);
    let mut runner = Runner {
        lua,
        streams,
        progname,
        echo: !interactive,
    };
    if options.version {
        runner.print_version();
    }
    let script = options.script;
    runner.lua.enter(|ctx| {
        if options.ignore_env {
            package::ignore_environment(ctx);
        }
        let arg = ctx.new_table();
        for (i, a) in args.iter().enumerate() {
            arg.set_int(ctx.mc, i as i64 - script as i64, ctx.str_value(a));
        }
        ctx.globals()
            .set_str(ctx.mc, ctx.intern(b"arg"), Value::Table(arg));
    });
    let ended = run_all(&mut runner, &args, &options, interactive);
    finish(runner, ended)
}

fn run_all(runner: &mut Runner, args: &[Vec<u8>], options: &Options, interactive: bool) -> Ended {
    let script = options.script;
    let steps: [&dyn Fn(&mut Runner) -> Ended; 2] = [
        &|r| {
            if options.ignore_env {
                Ended::Ok
            } else {
                r.run_init()
            }
        },
        &|r| r.run_options(args, if script > 0 { script } else { args.len() }),
    ];
    for step in steps {
        let ended = step(runner);
        if !matches!(ended, Ended::Ok) {
            return ended;
        }
    }
    if script > 0 {
        let name = &args[script];
        let stdin = name == b"-" && args[script - 1] != b"--";
        let ended = runner.run_script((!stdin).then_some(name.as_slice()));
        if !matches!(ended, Ended::Ok) {
            return ended;
        }
    }
    if options.interactive {
        return runner.repl();
    }
    if script == 0 && !options.execute && !options.version {
        if interactive {
            runner.print_version();
            return runner.repl();
        }
        return runner.run_file(None);
    }
    Ended::Ok
}

/// Closes the state as `lua.c` does before exiting, and gives the exit status.
fn finish(runner: Runner, ended: Ended) -> i32 {
    let Runner {
        mut lua, streams, ..
    } = runner;
    let status = match ended {
        Ended::Ok => 0,
        Ended::Failed => 1,
        Ended::Exit(exit) => {
            if !exit.close {
                // C's `exit` flushes open files without running finalizers: dropping the
                // state flushes them.
                drop(lua);
                let _ = streams.borrow_mut().out.flush();
                return exit.code;
            }
            exit.code
        }
    };
    lua.close();
    drop(lua);
    let _ = streams.borrow_mut().out.flush();
    status
}
