//! Runs one chunk natively and reports time and Lua heap figures (a profiling aid).
use std::rc::Rc;

use lua_persist_engine::{Engine, MemoryHost};

fn main() {
    let code = std::env::args().nth(1).expect("usage: probe 'lua code'");
    let host = Rc::new(MemoryHost::default());
    let mut engine = Engine::new(host.clone());
    let fresh = engine.heap_bytes();
    let started = std::time::Instant::now();
    let result = engine.compute("=probe", code.as_bytes());
    let elapsed = started.elapsed();
    let after = engine.heap_bytes();
    engine.collect_garbage();
    println!(
        "{:?} in {elapsed:?}; heap fresh={fresh} after={after} collected={} peak={}",
        result.map(|v| v.len()),
        engine.heap_bytes(),
        engine.peak_heap_bytes()
    );
    std::io::Write::write_all(&mut std::io::stdout(), &host.take_output()).unwrap();
}
