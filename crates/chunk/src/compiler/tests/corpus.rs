//! Every golden program (`tests/lua`) and every file of the official Lua 5.4.4 suite
//! (`../shared/lua-5.4.4-tests`) compiles, and what it compiles to is well formed.

extern crate std;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use std::fs;
use std::path::{Path, PathBuf};

use super::{check, compile};

/// The repository root, from this crate's directory.
fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.lua` files of a directory, sorted.
fn lua_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {}", dir.display(), e))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "lua"))
        .collect();
    files.sort();
    files
}

/// A file's source as the loader hands it over: a first line starting with `#` is dropped
/// (its newline kept, so that lines still count from the top).
pub(super) fn loader_source(bytes: &[u8]) -> &[u8] {
    if bytes.first() == Some(&b'#') {
        let end = bytes
            .iter()
            .position(|&c| c == b'\n')
            .unwrap_or(bytes.len());
        &bytes[end..]
    } else {
        bytes
    }
}

/// Sources of both corpora, for the fuzzer too.
pub(super) fn corpus_files() -> Vec<PathBuf> {
    let root = repository_root();
    let mut files = lua_files(&root.join("tests/lua"));
    files.extend(lua_files(&root.join("../shared/lua-5.4.4-tests")));
    files
}

fn compile_all(files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for path in files {
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {}", path.display(), e));
        let name = format!(
            "@{}",
            path.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        );
        match compile(loader_source(&bytes), name.as_bytes()) {
            Ok(proto) => check::check_structure(&proto),
            Err(error) => failures.push(String::from_utf8_lossy(&error.message).into_owned()),
        }
    }
    failures
}

#[test]
fn golden_programs_compile() {
    let files = lua_files(&repository_root().join("tests/lua"));
    assert!(files.len() >= 405, "only {} golden programs", files.len());
    let failures = compile_all(&files);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn official_test_suite_compiles() {
    let files = lua_files(&repository_root().join("../shared/lua-5.4.4-tests"));
    assert!(files.len() >= 33, "only {} suite files", files.len());
    let failures = compile_all(&files);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
