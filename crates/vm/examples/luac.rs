//! `luac -l`: prints the bytecode listing of a Lua file, for looking at what the compiler makes.

fn main() {
    let path = std::env::args().nth(1).expect("usage: luac FILE");
    let source = std::fs::read(&path).expect("readable file");
    let name = format!("@{path}");
    match lua_persist_vm::compiler::compile(&source, name.as_bytes()) {
        Ok(proto) => print!("{}", lua_persist_vm::compiler::listing(&proto)),
        Err(e) => {
            eprintln!("luac: {}", String::from_utf8_lossy(&e.message));
            std::process::exit(1);
        }
    }
}
