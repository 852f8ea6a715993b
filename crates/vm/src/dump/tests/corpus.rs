//! The compiler and the verifier agree: every prototype compiled from the corpora passes,
//! and dumps of them read back equal.

extern crate std;

use alloc::string::String;
use alloc::vec::Vec;
use std::path::{Path, PathBuf};

use crate::compiler::compile;
use crate::dump::{dump, undump, verify};
use crate::proto::FunctionProto;

/// The golden programs and, where this checkout sits beside it, the official test suite.
fn corpus_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in [
        root.join("tests/lua"),
        root.join("../shared/lua-5.4.4-tests"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            std::eprintln!("corpus: {} not found", dir.display());
            continue;
        };
        files.extend(
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "lua")),
        );
    }
    files.sort();
    files
}

/// Every file that compiles, as (name, prototype).
pub(super) fn compiled_corpus() -> Vec<(String, FunctionProto)> {
    corpus_files()
        .into_iter()
        .filter_map(|path| {
            let source = std::fs::read(&path).ok()?;
            let name = alloc::format!("@{}", path.file_name()?.to_string_lossy());
            let proto = compile(&source, name.as_bytes()).ok()?;
            Some((name, proto))
        })
        .collect()
}

#[test]
fn compiled_corpus_verifies_and_round_trips() {
    let corpus = compiled_corpus();
    assert!(corpus.len() > 400, "{} files", corpus.len());
    let mut failures = Vec::new();
    for (name, p) in &corpus {
        if let Err(e) = verify(p) {
            failures.push(alloc::format!("{name}: {e}"));
            continue;
        }
        assert_eq!(
            &undump(&dump(p, false), name.as_bytes()).unwrap(),
            p,
            "{name}"
        );
        undump(&dump(p, true), name.as_bytes()).unwrap();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
