//! A quick deterministic fuzz run: random token soup and mutated pieces of the corpora must
//! compile or fail cleanly, fast, and whatever compiles must be well formed.

extern crate std;

use alloc::vec::Vec;
use std::fs;
use std::time::{Duration, Instant};

use super::corpus::{corpus_files, loader_source};
use super::{check, compile};

/// xorshift64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "local ",
    "function ",
    "end ",
    "if ",
    "then ",
    "else ",
    "elseif ",
    "while ",
    "do ",
    "for ",
    "in ",
    "repeat ",
    "until ",
    "return ",
    "break ",
    "goto ",
    "::l:: ",
    "<const> ",
    "<close> ",
    "x",
    "y",
    "_ENV",
    "self",
    "= ",
    "==",
    "~=",
    "<=",
    ">=",
    "<",
    ">",
    "..",
    "...",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "^",
    "#",
    "&",
    "|",
    "~",
    "<<",
    ">>",
    "not ",
    "and ",
    "or ",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    ":",
    ".",
    "1",
    "0x10",
    "1.5",
    "1e300",
    "'s'",
    "\"\\n\"",
    "[[x]]",
    "nil",
    "true",
    "false",
    "\n",
    " ",
    "--c\n",
    "--[[c]]",
    "t.a",
    "f()",
    "a:b()",
];

/// Compiles `source`, checking what compiles and how long it takes.
fn exercise(source: &[u8]) {
    let start = Instant::now();
    if let Ok(proto) = compile(source, b"=fuzz") {
        check::check_structure(&proto);
    }
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "slow compile of {:?}",
        alloc::string::String::from_utf8_lossy(&source[..source.len().min(200)])
    );
}

#[test]
fn random_token_soup() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let mut source = Vec::new();
        for _ in 0..rng.below(60) {
            if rng.below(10) == 0 {
                source.push(rng.next() as u8);
            } else {
                source.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes());
            }
        }
        exercise(&source);
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..2000 {
        let source: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        exercise(&source);
    }
}

#[test]
fn mutated_corpus() {
    let files: Vec<Vec<u8>> = corpus_files()
        .iter()
        .map(|path| loader_source(&fs::read(path).expect("corpus file")).to_vec())
        .collect();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..3000 {
        let file = &files[rng.below(files.len())];
        // A window of the file keeps each case small and fast.
        let start = rng.below(file.len());
        let end = (start + 1 + rng.below(3000)).min(file.len());
        let mut source = file[start..end].to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(source.len() + 1);
            match rng.below(5) {
                0 if at < source.len() => source[at] = rng.next() as u8,
                1 if at < source.len() => {
                    let len = rng.below(20).min(source.len() - at);
                    source.drain(at..at + len);
                }
                2 => {
                    let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())].as_bytes();
                    source.splice(at..at, fragment.iter().copied());
                }
                3 if at < source.len() => {
                    let len = rng.below(40).min(source.len() - at);
                    let copy: Vec<u8> = source[at..at + len].to_vec();
                    source.splice(at..at, copy);
                }
                _ => {
                    let other = &files[rng.below(files.len())];
                    let from = rng.below(other.len());
                    let len = rng.below(200).min(other.len() - from);
                    source.splice(at..at, other[from..from + len].iter().copied());
                }
            }
        }
        exercise(&source);
    }
}
