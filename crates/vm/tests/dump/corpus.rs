//! The compiler and the verifier agree: every prototype compiled from the corpora passes,
//! and dumps of them read back equal.

use std::path::{Path, PathBuf};

use lua_persist_vm::compiler::compile;
use lua_persist_vm::dump::{dump, undump, verify};
use lua_persist_vm::proto::FunctionProto;

/// The Lua files the tests compile.
#[derive(Clone, Copy)]
pub(super) enum Corpus {
    /// `tests/lua`: the golden programs, a few lines each.
    Golden,
    /// The official Lua 5.4.4 test suite beside the checkout (large files), when present.
    Official,
}

impl Corpus {
    fn dir(self) -> PathBuf {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        match self {
            Corpus::Golden => root.join("tests/lua"),
            Corpus::Official => root.join("../shared/lua-5.4.4-tests"),
        }
    }

    /// Every file of the corpus that compiles, as (chunk name, prototype), by name.
    pub(super) fn compiled(self) -> Vec<(String, FunctionProto)> {
        let dir = self.dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            std::eprintln!("corpus {} not found", dir.display());
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "lua"))
            .collect();
        paths.sort();
        paths
            .into_iter()
            .filter_map(|path| {
                let source = std::fs::read(&path).ok()?;
                let name = std::format!("@{}", path.file_name()?.to_string_lossy());
                let proto = compile(&source, name.as_bytes()).ok()?;
                Some((name, proto))
            })
            .collect()
    }
}

#[test]
fn compiled_corpus_verifies_and_round_trips() {
    let golden = Corpus::Golden.compiled();
    assert!(golden.len() > 400, "{} golden files compile", golden.len());
    let mut failures = Vec::new();
    for (name, p) in golden.iter().chain(&Corpus::Official.compiled()) {
        if let Err(e) = verify(p) {
            failures.push(std::format!("{name}: {e}"));
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
