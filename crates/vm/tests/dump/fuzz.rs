//! Fuzzing `undump` and the VM behind it. Random bytes, bit flips, truncations, splices of
//! real chunks and edits of real prototypes go through `undump`, which must answer Ok or Err
//! without panicking; whatever it accepts must dump back to the same bytes and run in the VM
//! (with a small fuel budget) without panicking. Deterministic: a fixed seed and a xorshift.

use core::sync::atomic::{AtomicU64, Ordering};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lua_persist_vm::bytecode::Op;
use lua_persist_vm::dump::{decode_op, dump, undump, HEADER_LEN};
use lua_persist_vm::proto::{Constant, FunctionProto};
use lua_persist_vm::{Config, Lua, Step, Value};

use super::corpus::Corpus;
use super::{programs, QuietHost};

/// xorshift64*: small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// A byte that is usually small (registers, counts, short offsets) and sometimes not.
    fn small_byte(&mut self) -> u8 {
        match self.below(4) {
            0 => self.next() as u8,
            _ => self.below(12) as u8,
        }
    }
}

/// Prototypes to mutate and their chunks.
pub(super) struct Seeds {
    protos: Vec<FunctionProto>,
    chunks: Vec<Vec<u8>>,
}

impl Seeds {
    pub(super) fn new(protos: Vec<FunctionProto>) -> Seeds {
        let chunks = protos
            .iter()
            .flat_map(|p| [dump(p, false), dump(p, true)])
            .collect();
        Seeds { protos, chunks }
    }

    fn chunk(&self, rng: &mut Rng) -> &[u8] {
        &self.chunks[rng.below(self.chunks.len())]
    }
}

/// One fuzz input.
fn mutant(rng: &mut Rng, seeds: &Seeds) -> Vec<u8> {
    match rng.below(8) {
        0 => {
            let mut bytes = Vec::new();
            if rng.chance(2) {
                bytes.extend_from_slice(&seeds.chunk(rng)[..HEADER_LEN]);
            }
            let n = rng.below(48);
            bytes.extend((0..n).map(|_| rng.small_byte()));
            bytes
        }
        1 => {
            let mut bytes = seeds.chunk(rng).to_vec();
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            bytes
        }
        2 => {
            let mut bytes = seeds.chunk(rng).to_vec();
            let i = rng.below(bytes.len());
            bytes[i] = [0, 1, 0x7f, 0x80, 0xff, rng.small_byte()][rng.below(6)];
            bytes
        }
        3 => {
            let chunk = seeds.chunk(rng);
            chunk[..rng.below(chunk.len())].to_vec()
        }
        4 => {
            let (a, b) = (seeds.chunk(rng), seeds.chunk(rng));
            let mut bytes = a[..rng.below(a.len())].to_vec();
            bytes.extend_from_slice(&b[rng.below(b.len())..]);
            bytes
        }
        5 => {
            let mut bytes = seeds.chunk(rng).to_vec();
            let i = rng.below(bytes.len());
            if rng.chance(2) {
                let end = (i + 1 + rng.below(4)).min(bytes.len());
                bytes.drain(i..end);
            } else {
                for _ in 0..1 + rng.below(3) {
                    bytes.insert(i, rng.small_byte());
                }
            }
            bytes
        }
        _ => {
            let mut p = seeds.protos[rng.below(seeds.protos.len())].clone();
            for _ in 0..1 + rng.below(2) {
                edit(rng, &mut p);
            }
            dump(&p, rng.chance(2))
        }
    }
}

/// A random instruction with mostly small operands.
fn random_op(rng: &mut Rng) -> Op {
    loop {
        let mut bytes = vec![rng.below(77) as u8];
        bytes.extend((0..6).map(|_| rng.small_byte()));
        if let Some(op) = decode_op(&bytes) {
            return op;
        }
    }
}

/// Changes one thing in one function of `p`: the edits a buggy or hostile compiler might make.
fn edit(rng: &mut Rng, p: &mut FunctionProto) {
    let mut f = p;
    while !f.protos.is_empty() && rng.chance(2) {
        let i = rng.below(f.protos.len());
        f = &mut f.protos[i];
    }
    let n = f.code.len();
    let pc = rng.below(n);
    match rng.below(8) {
        0 | 1 => f.code[pc] = random_op(rng),
        2 => {
            f.code.insert(pc, random_op(rng));
            if !f.lines.is_empty() {
                f.lines.insert(pc, 0);
            }
        }
        3 if n > 1 => {
            f.code.remove(pc);
            if !f.lines.is_empty() {
                f.lines.remove(pc);
            }
        }
        4 => f.code.swap(pc, rng.below(n)),
        5 => f.max_stack = f.max_stack.wrapping_add([1, 255][rng.below(2)]),
        6 if !f.constants.is_empty() => {
            let k = rng.below(f.constants.len());
            f.constants[k] = match rng.below(4) {
                0 => Constant::Nil,
                1 => Constant::Integer(rng.next() as i64),
                2 => Constant::Float(f64::from_bits(rng.next())),
                _ => programs::s("x"),
            };
        }
        _ if !f.upvalues.is_empty() => {
            let u = rng.below(f.upvalues.len());
            f.upvalues[u].in_stack ^= rng.chance(2);
            f.upvalues[u].index = rng.small_byte();
        }
        _ => f.is_vararg = !f.is_vararg,
    }
}

/// What became of the inputs.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub(super) cases: u64,
    pub(super) accepted: u64,
    pub(super) finished: u64,
    pub(super) raised: u64,
    pub(super) out_of_fuel: u64,
}

/// Fuel for a run of an accepted chunk, in slices (garbage is collected between them).
const FUEL: i64 = 300;
const SLICES: usize = 4;

/// Runs an accepted chunk with a bounded budget; strings are capped so that doubling one in
/// a loop cannot exhaust memory within the budget.
fn run_briefly(p: FunctionProto, stats: &mut Stats) {
    let config = Config {
        max_string: 1 << 16,
        ..Config::default()
    };
    let mut lua = Lua::with_config(Box::new(QuietHost), config);
    lua.enter(stdlib::open);
    lua.start(|ctx| {
        let f = ctx.load_proto(p, None);
        let args = vec![Value::Integer(3), ctx.str_value(b"arg")];
        (Value::from(f), args)
    });
    for _ in 0..SLICES {
        match lua.step(FUEL) {
            Step::Pending => continue,
            Step::Done => {
                stats.finished += 1;
                return;
            }
            Step::Error(_) | Step::Exit(_) => {
                stats.raised += 1;
                return;
            }
        }
    }
    stats.out_of_fuel += 1;
}

/// Checks one input.
fn check(bytes: &[u8], stats: &mut Stats) {
    stats.cases += 1;
    let Ok(p) = undump(bytes, b"=fuzz") else {
        return;
    };
    stats.accepted += 1;
    let again = dump(&p, false);
    let reread = undump(&again, b"=fuzz").expect("an accepted prototype loads again");
    assert_eq!(dump(&reread, false), again, "dump and undump disagree");
    run_briefly(p, stats);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which inputs a fuzz run checks.
pub(super) struct Plan {
    pub(super) cases: u64,
    pub(super) seed: u64,
    /// Inputs generated but not checked first: `skip: n, cases: n + 1` reproduces case `n`.
    pub(super) skip: u64,
    /// Print each input before checking it (what a stack overflow leaves no time for).
    pub(super) trace: bool,
}

/// How often a run reports progress.
const PROGRESS_EVERY: u64 = 250_000;

/// Runs the inputs of `plan`. A panic is reported with its input (as hex, ready to go into
/// a regression test); an input that takes longer than `stall` aborts the process with its
/// input printed.
pub(super) fn fuzz(seeds: &Seeds, plan: &Plan, stall: Duration) -> Stats {
    let seed = plan.seed;
    let current = Arc::new(Mutex::new(Vec::new()));
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let watchdog = {
        let (current, progress, done) = (current.clone(), progress.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            while done.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(100));
                let now = progress.load(Ordering::Relaxed);
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() > stall {
                    let input = current.lock().map(|c| hex(&c)).unwrap_or_default();
                    std::eprintln!("fuzz case {now} (seed {seed}) hangs; input: {input}");
                    std::process::abort();
                }
            }
        })
    };
    let mut rng = Rng(seed | 1);
    let mut stats = Stats::default();
    for case in 0..plan.cases {
        let input = mutant(&mut rng, seeds);
        if case < plan.skip {
            continue;
        }
        if plan.trace {
            std::eprintln!("fuzz case {case}: {}", hex(&input));
        } else if case % PROGRESS_EVERY == 0 && case > 0 {
            std::eprintln!("fuzz: {case} cases");
        }
        if let Ok(mut c) = current.lock() {
            c.clone_from(&input);
        }
        progress.store(case, Ordering::Relaxed);
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&input, &mut stats)));
        if let Err(panic) = outcome {
            std::eprintln!(
                "fuzz case {case} (seed {seed}) panics; input: {}",
                hex(&input)
            );
            std::panic::resume_unwind(panic);
        }
    }
    done.store(1, Ordering::Relaxed);
    let _ = watchdog.join();
    stats
}

/// The hand-built programs and the golden corpus, compiled; `official`: the official
/// suite's files too (much larger, for the long run).
fn seeds(official: bool) -> Seeds {
    let mut protos = programs::all();
    let mut corpora = vec![Corpus::Golden];
    if official {
        corpora.push(Corpus::Official);
    }
    for corpus in corpora {
        protos.extend(corpus.compiled().into_iter().map(|(_, p)| p));
    }
    Seeds::new(protos)
}

#[test]
fn fuzz_short() {
    let started = Instant::now();
    let plan = Plan {
        cases: 20_000,
        seed: 0x5eed,
        skip: 0,
        trace: false,
    };
    let stats = fuzz(&seeds(false), &plan, Duration::from_secs(60));
    std::eprintln!("{stats:?} in {:?}", started.elapsed());
    // The mutations must reach the VM, not only the reader.
    assert!(stats.accepted > 1000, "{stats:?}");
    assert!(stats.finished > 100 && stats.raised > 100, "{stats:?}");
}

/// `make fuzz`: millions of cases. `FUZZ_CASES`, `FUZZ_SEED`, `FUZZ_SKIP` and `FUZZ_TRACE`
/// (see [`Plan`]) override the defaults.
#[test]
#[ignore]
fn fuzz_long() {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let plan = Plan {
        cases: env("FUZZ_CASES", 3_000_000),
        seed: env("FUZZ_SEED", 0x10_5eed),
        skip: env("FUZZ_SKIP", 0),
        trace: env("FUZZ_TRACE", 0) != 0,
    };
    let started = Instant::now();
    let stats = fuzz(&seeds(true), &plan, Duration::from_secs(60));
    std::eprintln!("{stats:?} in {:?}", started.elapsed());
}
