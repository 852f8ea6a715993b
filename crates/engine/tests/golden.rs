//! The golden corpus: every `tests/lua/<name>.lua` runs on the engine and its printed output
//! must equal `tests/lua/expected/<name>.out`, which `tests/lua/regen.sh` records from
//! Debian's `lua5.4`. A program lua5.4 ended with an error (`<name>.status` not `0`) must
//! also fail here, after printing the same output. Addresses (`0x...`) differ between runs
//! and are compared as `0xADDR`.
//!
//! `GOLDEN_FILTER=substring` runs only matching programs; `GOLDEN_VERBOSE=1` shows diffs.

use std::{fs, path::PathBuf, rc::Rc};

use lua_persist_engine::{Engine, Limits, MemoryHost};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/lua")
}

/// `text` with every `0x` and the hex digits after it as `0xADDR`.
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

/// The first line where two outputs differ, for the failure report.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let e: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
    let a: Vec<&[u8]> = actual.split(|&b| b == b'\n').collect();
    for i in 0..e.len().max(a.len()) {
        let el = e.get(i).copied().unwrap_or(b"<missing>");
        let al = a.get(i).copied().unwrap_or(b"<missing>");
        if el != al {
            return format!(
                "line {}: expected {:?}, got {:?}",
                i + 1,
                String::from_utf8_lossy(el),
                String::from_utf8_lossy(al)
            );
        }
    }
    "outputs differ".into()
}

#[test]
fn golden_corpus_matches_lua54() {
    let dir = corpus_dir();
    let filter = std::env::var("GOLDEN_FILTER").unwrap_or_default();
    let verbose = std::env::var("GOLDEN_VERBOSE").is_ok();
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("tests/lua exists")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".lua").map(str::to_string)
        })
        .filter(|n| n.contains(&filter))
        .collect();
    names.sort();

    let mut passed = 0;
    let mut failures = Vec::new();
    for name in &names {
        let source = fs::read(dir.join(format!("{name}.lua"))).unwrap();
        let expected = fs::read(dir.join(format!("expected/{name}.out")))
            .unwrap_or_else(|_| panic!("no expected output for {name}: run tests/lua/regen.sh"));
        let expected = without_addresses(&expected);
        let status = fs::read_to_string(dir.join(format!("expected/{name}.status")))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "0".into());

        let host = Rc::new(MemoryHost::default());
        let started = std::time::Instant::now();
        // A panic must fail one program, not the whole corpus.
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut engine = Engine::new(host.clone());
            engine.set_limits(Limits {
                instructions: 500_000_000,
                ..Limits::default()
            });
            engine.compute(&format!("@{name}.lua"), &source)
        }));
        let output = without_addresses(&host.take_output());
        if started.elapsed().as_secs() >= 2 {
            eprintln!("golden: {name} took {:?}", started.elapsed());
        }
        let Ok(result) = run else {
            failures.push(format!("{name} (panicked)"));
            continue;
        };

        let problem = match (&result, status == "0") {
            (Err(f), true) => Some(format!("failed: {}", f.message)),
            (Ok(_), false) => Some("succeeded, but lua5.4 raised an error".to_string()),
            _ if output != expected => Some(first_difference(&expected, &output)),
            _ => None,
        };
        match problem {
            None => passed += 1,
            Some(p) => {
                if verbose {
                    eprintln!("--- {name}: {p}");
                    if let Err(f) = &result {
                        eprintln!("    error: {}", f.message);
                    }
                }
                failures.push(format!("{name} ({p})"));
            }
        }
    }
    eprintln!(
        "golden: {} programs, {} passed, {} failed",
        names.len(),
        passed,
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} golden programs failed:\n  {}",
        failures.len(),
        names.len(),
        failures.join("\n  ")
    );
}
