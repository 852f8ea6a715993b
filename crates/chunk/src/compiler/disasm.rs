//! A readable listing of compiled prototypes, in the spirit of `luac -l -l`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::bytecode::Op;
use crate::proto::{Constant, FunctionProto};

/// Lists a prototype and every function nested in it: code with lines and jump targets,
/// constants, locals and upvalues.
pub fn listing(proto: &FunctionProto) -> String {
    let mut out = String::new();
    // Depth first, without recursion: prototypes from a binary chunk may nest deeply.
    let mut pending: Vec<&FunctionProto> = Vec::from([proto]);
    while let Some(function) = pending.pop() {
        list_function(&mut out, function);
        pending.extend(function.protos.iter().rev());
    }
    out
}

fn bytes_text(bytes: &[u8]) -> String {
    let mut text = String::new();
    for &c in bytes {
        match c {
            b'"' => text.push_str("\\\""),
            b'\\' => text.push_str("\\\\"),
            0x20..=0x7e => text.push(c as char),
            b'\n' => text.push_str("\\n"),
            _ => {
                let _ = write!(text, "\\{}", c);
            }
        }
    }
    text
}

fn constant_text(constant: Option<&Constant>) -> String {
    match constant {
        Some(Constant::Nil) => String::from("nil"),
        Some(Constant::Boolean(b)) => format!("{}", b),
        Some(Constant::Integer(i)) => format!("{}", i),
        Some(Constant::Float(f)) => format!("{:?}", f),
        Some(Constant::String(s)) => format!("\"{}\"", bytes_text(s)),
        None => String::from("?"),
    }
}

fn list_function(out: &mut String, f: &FunctionProto) {
    let kind = if f.line_defined == 0 {
        "main"
    } else {
        "function"
    };
    let _ = writeln!(
        out,
        "{} <{}:{},{}> ({} instructions)",
        kind,
        bytes_text(&f.source),
        f.line_defined,
        f.last_line_defined,
        f.code.len()
    );
    let _ = writeln!(
        out,
        "{}{} params, {} slots, {} upvalues, {} locals, {} constants, {} functions",
        f.num_params,
        if f.is_vararg { "+" } else { "" },
        f.max_stack,
        f.upvalues.len(),
        f.locals.len(),
        f.constants.len(),
        f.protos.len()
    );
    for (pc, op) in f.code.iter().enumerate() {
        let line = f
            .lines
            .get(pc)
            .map_or(String::from("-"), |l| format!("{}", l));
        let _ = writeln!(out, "\t{}\t[{}]\t{}", pc, line, instruction_text(f, pc, op));
    }
    let _ = writeln!(out, "constants ({}):", f.constants.len());
    for (index, constant) in f.constants.iter().enumerate() {
        let _ = writeln!(out, "\t{}\t{}", index, constant_text(Some(constant)));
    }
    let _ = writeln!(out, "locals ({}):", f.locals.len());
    for (index, local) in f.locals.iter().enumerate() {
        let _ = writeln!(
            out,
            "\t{}\t{}\tR{}\t{}\t{}",
            index,
            bytes_text(&local.name),
            local.reg,
            local.start_pc,
            local.end_pc
        );
    }
    let _ = writeln!(out, "upvalues ({}):", f.upvalues.len());
    for (index, upvalue) in f.upvalues.iter().enumerate() {
        let place = if upvalue.in_stack { "R" } else { "U" };
        let _ = writeln!(
            out,
            "\t{}\t{}\t{}{}",
            index,
            bytes_text(&upvalue.name),
            place,
            upvalue.index
        );
    }
}

/// One instruction: its name, operands and a comment (constants, jump targets).
fn instruction_text(f: &FunctionProto, pc: usize, op: &Op) -> String {
    let k = |index: u32| constant_text(f.constants.get(index as usize));
    let rk = |c: u8, kc: bool| {
        if kc {
            format!("K{} ({})", c, k(u32::from(c)))
        } else {
            format!("R{}", c)
        }
    };
    let to = |off: i32| pc as i64 + 1 + i64::from(off);
    let cond = |k: bool| if k { "" } else { "not " };
    match *op {
        Op::Move { a, b } => format!("MOVE\tR{} R{}", a, b),
        Op::LoadI { a, i } => format!("LOADI\tR{} {}", a, i),
        Op::LoadF { a, f } => format!("LOADF\tR{} {}.0", a, f),
        Op::LoadK { a, k: index } => format!("LOADK\tR{} K{}\t; {}", a, index, k(index)),
        Op::LoadFalse { a } => format!("LOADFALSE\tR{}", a),
        Op::LoadFalseSkip { a } => format!("LFALSESKIP\tR{}", a),
        Op::LoadTrue { a } => format!("LOADTRUE\tR{}", a),
        Op::LoadNil { a, n } => format!("LOADNIL\tR{} {}\t; {} registers", a, n, u32::from(n) + 1),
        Op::GetUpval { a, b } => format!("GETUPVAL\tR{} U{}", a, b),
        Op::SetUpval { a, b } => format!("SETUPVAL\tR{} U{}", a, b),
        Op::GetTabUp { a, b, k: index } => {
            format!("GETTABUP\tR{} U{} K{}\t; {}", a, b, index, k(index))
        }
        Op::GetTable { a, b, c } => format!("GETTABLE\tR{} R{} R{}", a, b, c),
        Op::GetInt { a, b, c } => format!("GETI\tR{} R{} {}", a, b, c),
        Op::GetField { a, b, k: index } => {
            format!("GETFIELD\tR{} R{} K{}\t; {}", a, b, index, k(index))
        }
        Op::SetTabUp { a, c, kc, k: index } => {
            format!("SETTABUP\tU{} K{} {}\t; {}", a, index, rk(c, kc), k(index))
        }
        Op::SetTable { a, b, c, kc } => format!("SETTABLE\tR{} R{} {}", a, b, rk(c, kc)),
        Op::SetInt { a, b, c, kc } => format!("SETI\tR{} {} {}", a, b, rk(c, kc)),
        Op::SetField { a, c, kc, k: index } => {
            format!("SETFIELD\tR{} K{} {}\t; {}", a, index, rk(c, kc), k(index))
        }
        Op::NewTable { a, hash, array } => format!(
            "NEWTABLE\tR{} {} {}\t; {} hash, {} array",
            a, hash, array, hash, array
        ),
        Op::SelfK { a, b, k: index } => format!("SELF\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::AddI { a, b, i } => format!("ADDI\tR{} R{} {}", a, b, i),
        Op::AddK { a, b, k: index } => format!("ADDK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::SubK { a, b, k: index } => format!("SUBK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::MulK { a, b, k: index } => format!("MULK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::ModK { a, b, k: index } => format!("MODK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::PowK { a, b, k: index } => format!("POWK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::DivK { a, b, k: index } => format!("DIVK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::IDivK { a, b, k: index } => format!("IDIVK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::BAndK { a, b, k: index } => format!("BANDK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::BOrK { a, b, k: index } => format!("BORK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::BXorK { a, b, k: index } => format!("BXORK\tR{} R{} K{}\t; {}", a, b, index, k(index)),
        Op::ShrI { a, b, i } => format!("SHRI\tR{} R{} {}", a, b, i),
        Op::ShlI { a, b, i } => format!("SHLI\tR{} {} R{}", a, i, b),
        Op::Add { a, b, c } => format!("ADD\tR{} R{} R{}", a, b, c),
        Op::Sub { a, b, c } => format!("SUB\tR{} R{} R{}", a, b, c),
        Op::Mul { a, b, c } => format!("MUL\tR{} R{} R{}", a, b, c),
        Op::Mod { a, b, c } => format!("MOD\tR{} R{} R{}", a, b, c),
        Op::Pow { a, b, c } => format!("POW\tR{} R{} R{}", a, b, c),
        Op::Div { a, b, c } => format!("DIV\tR{} R{} R{}", a, b, c),
        Op::IDiv { a, b, c } => format!("IDIV\tR{} R{} R{}", a, b, c),
        Op::BAnd { a, b, c } => format!("BAND\tR{} R{} R{}", a, b, c),
        Op::BOr { a, b, c } => format!("BOR\tR{} R{} R{}", a, b, c),
        Op::BXor { a, b, c } => format!("BXOR\tR{} R{} R{}", a, b, c),
        Op::Shl { a, b, c } => format!("SHL\tR{} R{} R{}", a, b, c),
        Op::Shr { a, b, c } => format!("SHR\tR{} R{} R{}", a, b, c),
        Op::Unm { a, b } => format!("UNM\tR{} R{}", a, b),
        Op::BNot { a, b } => format!("BNOT\tR{} R{}", a, b),
        Op::Not { a, b } => format!("NOT\tR{} R{}", a, b),
        Op::Len { a, b } => format!("LEN\tR{} R{}", a, b),
        Op::Concat { a, n } => format!("CONCAT\tR{} {}", a, n),
        Op::Close { a } => format!("CLOSE\tR{}", a),
        Op::Tbc { a } => format!("TBC\tR{}", a),
        Op::Jmp { off } => format!("JMP\t{}\t; to {}", off, to(off)),
        Op::Eq { a, b, k, off } => {
            format!("EQ\tR{} R{} {}\t; if {}== to {}", a, b, k, cond(k), to(off))
        }
        Op::Lt { a, b, k, off } => {
            format!("LT\tR{} R{} {}\t; if {}< to {}", a, b, k, cond(k), to(off))
        }
        Op::Le { a, b, k, off } => {
            format!("LE\tR{} R{} {}\t; if {}<= to {}", a, b, k, cond(k), to(off))
        }
        Op::EqK { a, c, k: flag, off } => {
            format!(
                "EQK\tR{} K{} {}\t; if {}== {} to {}",
                a,
                c,
                flag,
                cond(flag),
                k(u32::from(c)),
                to(off)
            )
        }
        Op::EqI { a, i, k, off } => {
            format!("EQI\tR{} {} {}\t; if {}== to {}", a, i, k, cond(k), to(off))
        }
        Op::LtI { a, i, k, off } => {
            format!("LTI\tR{} {} {}\t; if {}< to {}", a, i, k, cond(k), to(off))
        }
        Op::LeI { a, i, k, off } => {
            format!("LEI\tR{} {} {}\t; if {}<= to {}", a, i, k, cond(k), to(off))
        }
        Op::GtI { a, i, k, off } => {
            format!("GTI\tR{} {} {}\t; if {}> to {}", a, i, k, cond(k), to(off))
        }
        Op::GeI { a, i, k, off } => {
            format!("GEI\tR{} {} {}\t; if {}>= to {}", a, i, k, cond(k), to(off))
        }
        Op::Test { a, k, off } => {
            format!("TEST\tR{} {}\t; if {}R{} to {}", a, k, cond(k), a, to(off))
        }
        Op::TestSet { a, b, k, off } => format!(
            "TESTSET\tR{} R{} {}\t; if {}R{} to {}",
            a,
            b,
            k,
            cond(k),
            b,
            to(off)
        ),
        Op::Call { a, b, c } => format!("CALL\tR{} {} {}", a, b, c),
        Op::TailCall { a, b } => format!("TAILCALL\tR{} {}", a, b),
        Op::Return { a, b } => format!("RETURN\tR{} {}", a, b),
        Op::Return0 => String::from("RETURN0"),
        Op::Return1 { a } => format!("RETURN1\tR{}", a),
        Op::ForPrep { a, off } => format!("FORPREP\tR{} {}\t; exit to {}", a, off, to(off)),
        Op::ForLoop { a, off } => format!("FORLOOP\tR{} {}\t; to {}", a, off, to(off)),
        Op::TForPrep { a, off } => format!("TFORPREP\tR{} {}\t; to {}", a, off, to(off)),
        Op::TForCall { a, c } => format!("TFORCALL\tR{} {}", a, c),
        Op::TForLoop { a, off } => format!("TFORLOOP\tR{} {}\t; to {}", a, off, to(off)),
        Op::SetList { a, n, start } => format!("SETLIST\tR{} {} {}", a, n, start),
        Op::Closure { a, p } => format!("CLOSURE\tR{} P{}", a, p),
        Op::VarArg { a, c } => format!("VARARG\tR{} {}", a, c),
    }
}
