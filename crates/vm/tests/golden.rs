//! The golden corpus: every `tests/lua/<name>.lua` through the runner's own code
//! (`examples/lua`), in this process, against what Debian's lua5.4 did with it
//! (`tests/lua/expected`, written by `tests/lua/regen.sh`): stdout and exit status byte for
//! byte, stderr with lua5.4's program name read as the runner's. Addresses (`0x...`) differ
//! from run to run, so they are compared as a placeholder everywhere.

#[path = "../examples/lua/cli.rs"]
mod cli;
#[path = "../examples/lua/host.rs"]
mod host;

use std::cell::RefCell;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::sync::OnceLock;

/// A writer that keeps what it is given.
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

/// Runs `lua <script>` with empty standard input: stdout, stderr and the exit status.
fn run(script: &str) -> (Vec<u8>, Vec<u8>, i32) {
    let (out, err) = (Capture::default(), Capture::default());
    let streams = Rc::new(RefCell::new(host::Streams {
        out: Box::new(out.clone()),
        err: Box::new(err.clone()),
        input: Box::new(std::io::empty()),
    }));
    let args = vec![b"lua".to_vec(), script.as_bytes().to_vec()];
    let status = cli::main_with(args, streams, false);
    let out = out.0.borrow().clone();
    let err = err.0.borrow().clone();
    (out, err, status)
}

/// `text` with every `0x` and hex digits after it as `0xADDR`.
fn without_addresses(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with(b"0x") && text.get(i + 2).is_some_and(u8::is_ascii_hexdigit) {
            out.extend_from_slice(b"0xADDR");
            i += 2;
            while text.get(i).is_some_and(u8::is_ascii_hexdigit) {
                i += 1;
            }
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// lua5.4's stderr as the runner (named `lua`) writes it.
fn as_runner_stderr(expected: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(expected);
    let lines: Vec<String> = text
        .split_inclusive('\n')
        .map(|l| match l.strip_prefix("lua5.4:") {
            Some(rest) => format!("lua:{rest}"),
            None => l.to_string(),
        })
        .collect();
    lines.concat().into_bytes()
}

/// What the runner did with one program, and what lua5.4 did.
struct Outcome {
    name: String,
    got: (Vec<u8>, Vec<u8>, i32),
    want: (Vec<u8>, Vec<u8>, i32),
}

/// Runs the whole corpus once for all the tests here.
fn corpus() -> &'static [Outcome] {
    static OUTCOMES: OnceLock<Vec<Outcome>> = OnceLock::new();
    OUTCOMES.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/lua");
        // Programs run from their folder, as regen.sh ran lua5.4, so chunk names match.
        std::env::set_current_dir(&dir).expect("tests/lua exists");
        let mut names: Vec<String> = std::fs::read_dir(".")
            .expect("tests/lua is readable")
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                Some(name.strip_suffix(".lua")?.to_string())
            })
            .collect();
        names.sort();
        let expected = |name: &str, ext: &str| {
            std::fs::read(format!("expected/{name}.{ext}")).unwrap_or_default()
        };
        names
            .into_iter()
            .map(|name| {
                let status = String::from_utf8_lossy(&expected(&name, "status"))
                    .trim()
                    .parse()
                    .expect("a status file holds a number");
                let want = (
                    expected(&name, "out"),
                    as_runner_stderr(&expected(&name, "err")),
                    status,
                );
                let got = run(&format!("{name}.lua"));
                Outcome { name, got, want }
            })
            .collect()
    })
}

/// Fails listing the programs `differs` picks out, with what the runner wrote.
fn check(what: &str, differs: impl Fn(&Outcome) -> bool) {
    let outcomes = corpus();
    assert!(
        outcomes.len() >= 405,
        "the corpus has {} programs",
        outcomes.len()
    );
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| differs(o))
        .map(|o| {
            format!(
                "{}: status {}\n--- stdout\n{}--- stderr\n{}",
                o.name,
                o.got.2,
                String::from_utf8_lossy(&o.got.0),
                String::from_utf8_lossy(&o.got.1)
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} programs differ from lua5.4 in {what}:\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n")
    );
}

#[test]
fn stdout_and_exit_status_are_lua5_4s() {
    check("stdout or exit status", |o| {
        without_addresses(&o.got.0) != without_addresses(&o.want.0) || o.got.2 != o.want.2
    });
}

#[test]
fn stderr_is_lua5_4s() {
    check("stderr", |o| {
        without_addresses(&o.got.1) != without_addresses(&o.want.1)
    });
}
