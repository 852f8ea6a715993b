//! Tests of binary chunks (`lua_persist_vm::dump`, from `lua-persist-chunk`): round trips, one hostile
//! prototype per verifier rule, the VM's `string.dump`/`load`, and fuzzing of the reader, the
//! verifier and the VM behind them. They live here because most of them run what they load.

mod corpus;
mod fuzz;
mod in_lua;
mod programs;
mod regressions;
mod round_trip;
mod rules;

use lua_persist_vm::proto::FunctionProto;
use lua_persist_vm::{Host, Lua, Step, Value};

/// A host that discards output.
struct QuietHost;

impl Host for QuietHost {
    fn write(&mut self, _: &[u8]) {}
    fn warn(&mut self, _: &[u8]) {}
    fn clock(&mut self) -> f64 {
        0.0
    }
    fn time(&mut self) -> i64 {
        0
    }
    fn random_seed(&mut self) -> u64 {
        0
    }
}

fn new_lua() -> Lua {
    let lua = Lua::new(Box::new(QuietHost));
    lua.enter(stdlib::open);
    lua
}

/// A result of a run, out of the arena.
#[derive(Clone, Debug, PartialEq)]
enum Out {
    Nil,
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(Vec<u8>),
    Other(&'static str),
}

fn out(v: Value<'_>) -> Out {
    match v {
        Value::Nil => Out::Nil,
        Value::Boolean(b) => Out::Bool(b),
        Value::Integer(i) => Out::Int(i),
        Value::Float(f) => Out::Num(f),
        Value::String(s) => Out::Str(s.as_bytes().to_vec()),
        other => Out::Other(other.type_name()),
    }
}

/// Loads `proto` as a main chunk and runs it with `args` to the end.
fn run(proto: FunctionProto, args: &[i64]) -> Result<Vec<Out>, String> {
    let mut lua = new_lua();
    lua.start(|ctx| {
        let f = ctx.load_proto(proto, None);
        let args = args.iter().map(|&i| Value::Integer(i)).collect();
        (Value::from(f), args)
    });
    match lua.run() {
        Step::Done => Ok(lua.results(|_, values| values.iter().map(|&v| out(v)).collect())),
        Step::Error(e) => Err(e.message),
        Step::Exit(_) => Err(String::from("os.exit")),
        Step::Pending => unreachable!("run goes to the end"),
    }
}
