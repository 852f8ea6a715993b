//! The official Lua 5.4.4 test suite (`../shared/lua-5.4.4-tests`, beside the repository)
//! through the runner's own code, each file as `lua -e "_port=true _soft=true" FILE` from
//! the suite's folder, as its README says, and `all.lua`, which runs them all in one state.
//!
//! `tests/lua/suite-exceptions.txt` lists what we do not meet, with the reason: a file name
//! skips that file; `file:line` turns that one line (an assertion) into a comment in the
//! copy of the suite the test runs.

#[path = "../examples/lua/cli.rs"]
mod cli;
#[path = "../examples/lua/host.rs"]
mod host;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

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

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Skipped files, and the lines to comment out per file.
fn exceptions() -> (BTreeSet<String>, BTreeMap<String, BTreeSet<usize>>) {
    let text = std::fs::read_to_string(repository().join("tests/lua/suite-exceptions.txt"))
        .expect("tests/lua/suite-exceptions.txt");
    let (mut files, mut lines) = (BTreeSet::new(), BTreeMap::<String, BTreeSet<usize>>::new());
    for entry in text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut parts = entry.splitn(3, ':');
        let file = parts.next().unwrap().trim().to_string();
        match parts
            .next()
            .map(str::trim)
            .and_then(|p| p.parse::<usize>().ok())
        {
            Some(line) => {
                lines.entry(file).or_default().insert(line);
            }
            None => {
                files.insert(file);
            }
        }
    }
    (files, lines)
}

/// A copy of the suite with the excepted lines commented out.
fn patched_copy(suite: &Path, lines: &BTreeMap<String, BTreeSet<usize>>) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lua-persist-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(suite).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut text = std::fs::read(&path).unwrap();
        if let Some(skip) = lines.get(&name) {
            let mut out = Vec::new();
            for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                if skip.contains(&(i + 1)) {
                    out.extend_from_slice(b"-- ");
                }
                out.extend_from_slice(line);
            }
            text = out;
        }
        std::fs::write(dir.join(&name), text).unwrap();
    }
    dir
}

/// Runs `lua -e "_port=true _soft=true" file` in the current directory.
fn run(file: &str) -> (i32, Vec<u8>) {
    let (out, err) = (Capture::default(), Capture::default());
    let streams = Rc::new(RefCell::new(host::Streams {
        out: Box::new(out.clone()),
        err: Box::new(err.clone()),
        input: Box::new(std::io::empty()),
    }));
    let args = ["lua", "-e", "_port=true _soft=true", file]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let status = cli::main_with(args, streams, false);
    let mut report = out.0.borrow().clone();
    report.extend_from_slice(&err.0.borrow());
    (status, report)
}

#[test]
fn the_official_suite_passes() {
    let suite = repository().join("../shared/lua-5.4.4-tests");
    assert!(
        suite.is_dir(),
        "the official suite is expected at {} (shared/ beside the repository)",
        suite.display()
    );
    let (skipped, lines) = exceptions();
    let dir = patched_copy(&suite, &lines);
    // The files open each other by relative paths, as when run from their folder.
    std::env::set_current_dir(&dir).unwrap();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lua") && !skipped.contains(n))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let (status, report) = run(file);
        if status != 0 {
            let tail: Vec<&[u8]> = report.rsplit(|&b| b == b'\n').take(8).collect();
            let tail: Vec<String> = tail
                .iter()
                .rev()
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect();
            failures.push(format!("{file} (exit {status}):\n{}", tail.join("\n")));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
