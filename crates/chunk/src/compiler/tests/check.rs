//! A structural check of compiled prototypes: every register below `max_stack`, every jump
//! inside the code, every constant, prototype and upvalue index in range and of the right
//! kind, one line per instruction, code that ends in a return.

use alloc::format;
use alloc::string::String;

use crate::bytecode::Op;
use crate::proto::{Constant, FunctionProto};

/// Panics with the listing if `proto` or a nested function is malformed.
pub(super) fn check_structure(proto: &FunctionProto) {
    check_function(proto, None);
}

fn check_function(f: &FunctionProto, parent: Option<&FunctionProto>) {
    if let Err(problem) = problems(f, parent) {
        panic!("{}\n{}", problem, super::listing(f));
    }
    for child in &f.protos {
        check_function(child, Some(f));
    }
}

fn problems(f: &FunctionProto, parent: Option<&FunctionProto>) -> Result<(), String> {
    let len = f.code.len();
    if f.lines.len() != len {
        return Err(format!("{} lines for {} instructions", f.lines.len(), len));
    }
    let ends_in_return = matches!(
        f.code.last(),
        Some(Op::Return { .. } | Op::Return0 | Op::Return1 { .. })
    );
    if !ends_in_return {
        return Err(String::from("code does not end in a return"));
    }
    if u32::from(f.num_params) > u32::from(f.max_stack) {
        return Err(String::from("more parameters than registers"));
    }
    for (pc, &line) in f.lines.iter().enumerate() {
        let last = if f.line_defined == 0 {
            u32::MAX
        } else {
            f.last_line_defined
        };
        if line < f.line_defined || line > last {
            return Err(format!(
                "pc {}: line {} outside {}..={}",
                pc, line, f.line_defined, last
            ));
        }
    }
    for (pc, op) in f.code.iter().enumerate() {
        check_instruction(f, pc, op)
            .map_err(|problem| format!("pc {} {:?}: {}", pc, op, problem))?;
    }
    for local in &f.locals {
        if local.reg >= f.max_stack || local.start_pc > local.end_pc || local.end_pc as usize > len
        {
            return Err(format!("bad local {:?}", local));
        }
    }
    match parent {
        None => {
            if f.upvalues.len() != 1 || f.upvalues[0].name.as_ref() != b"_ENV" || !f.is_vararg {
                return Err(String::from("main function without its _ENV upvalue"));
            }
        }
        Some(parent) => {
            for upvalue in &f.upvalues {
                let ok = if upvalue.in_stack {
                    upvalue.index < parent.max_stack
                } else {
                    usize::from(upvalue.index) < parent.upvalues.len()
                };
                if !ok {
                    return Err(format!("bad upvalue {:?}", upvalue));
                }
            }
        }
    }
    Ok(())
}

fn check_instruction(f: &FunctionProto, pc: usize, op: &Op) -> Result<(), String> {
    let stack = u32::from(f.max_stack);
    let reg = |r: u8| -> Result<(), String> {
        if u32::from(r) < stack {
            Ok(())
        } else {
            Err(format!("register {} not below {}", r, stack))
        }
    };
    // Registers first..first+count (a count of 0 checks nothing).
    let regs = |first: u8, count: u32| -> Result<(), String> {
        if count == 0 || u32::from(first) + count <= stack {
            Ok(())
        } else {
            Err(format!(
                "registers {}..{} not below {}",
                first,
                u32::from(first) + count,
                stack
            ))
        }
    };
    let constant = |k: u32| -> Result<&Constant, String> {
        f.constants
            .get(k as usize)
            .ok_or_else(|| format!("constant {} of {}", k, f.constants.len()))
    };
    let string = |k: u32| -> Result<(), String> {
        match constant(k)? {
            Constant::String(_) => Ok(()),
            other => Err(format!("constant {:?} is not a string", other)),
        }
    };
    let number = |k: u32| -> Result<(), String> {
        match constant(k)? {
            Constant::Integer(_) | Constant::Float(_) => Ok(()),
            other => Err(format!("constant {:?} is not a number", other)),
        }
    };
    let integer = |k: u32| -> Result<(), String> {
        match constant(k)? {
            Constant::Integer(_) => Ok(()),
            other => Err(format!("constant {:?} is not an integer", other)),
        }
    };
    let rk = |c: u8, kc: bool| -> Result<(), String> {
        if kc {
            constant(u32::from(c)).map(|_| ())
        } else {
            reg(c)
        }
    };
    let upvalue = |u: u8| -> Result<(), String> {
        if usize::from(u) < f.upvalues.len() {
            Ok(())
        } else {
            Err(format!("upvalue {} of {}", u, f.upvalues.len()))
        }
    };
    let target = |off: i32| -> Result<(), String> {
        let target = pc as i64 + 1 + i64::from(off);
        if (0..f.code.len() as i64).contains(&target) {
            Ok(())
        } else {
            Err(format!("jump to {}", target))
        }
    };
    match *op {
        Op::Move { a, b }
        | Op::Unm { a, b }
        | Op::BNot { a, b }
        | Op::Not { a, b }
        | Op::Len { a, b } => {
            reg(a)?;
            reg(b)
        }
        Op::LoadI { a, .. }
        | Op::LoadF { a, .. }
        | Op::LoadFalse { a }
        | Op::LoadFalseSkip { a }
        | Op::LoadTrue { a }
        | Op::Close { a }
        | Op::Tbc { a }
        | Op::Return1 { a } => reg(a),
        Op::LoadK { a, k } => {
            reg(a)?;
            constant(k).map(|_| ())
        }
        Op::LoadNil { a, n } => regs(a, u32::from(n) + 1),
        Op::GetUpval { a, b } | Op::SetUpval { a, b } => {
            reg(a)?;
            upvalue(b)
        }
        Op::GetTabUp { a, b, k } => {
            reg(a)?;
            upvalue(b)?;
            string(k)
        }
        Op::GetTable { a, b, c } => {
            reg(a)?;
            reg(b)?;
            reg(c)
        }
        Op::GetInt { a, b, .. } => {
            reg(a)?;
            reg(b)
        }
        Op::GetField { a, b, k } => {
            reg(a)?;
            reg(b)?;
            string(k)
        }
        Op::SetTabUp { a, c, kc, k } => {
            upvalue(a)?;
            rk(c, kc)?;
            string(k)
        }
        Op::SetTable { a, b, c, kc } => {
            reg(a)?;
            reg(b)?;
            rk(c, kc)
        }
        Op::SetInt { a, c, kc, .. } => {
            reg(a)?;
            rk(c, kc)
        }
        Op::SetField { a, c, kc, k } => {
            reg(a)?;
            rk(c, kc)?;
            string(k)
        }
        Op::NewTable { a, .. } => reg(a),
        Op::SelfK { a, b, k } => {
            regs(a, 2)?;
            reg(b)?;
            string(k)
        }
        Op::AddI { a, b, .. } | Op::ShrI { a, b, .. } | Op::ShlI { a, b, .. } => {
            reg(a)?;
            reg(b)
        }
        Op::AddK { a, b, k }
        | Op::SubK { a, b, k }
        | Op::MulK { a, b, k }
        | Op::ModK { a, b, k }
        | Op::PowK { a, b, k }
        | Op::DivK { a, b, k }
        | Op::IDivK { a, b, k } => {
            reg(a)?;
            reg(b)?;
            number(k)
        }
        Op::BAndK { a, b, k } | Op::BOrK { a, b, k } | Op::BXorK { a, b, k } => {
            reg(a)?;
            reg(b)?;
            integer(k)
        }
        Op::Add { a, b, c }
        | Op::Sub { a, b, c }
        | Op::Mul { a, b, c }
        | Op::Mod { a, b, c }
        | Op::Pow { a, b, c }
        | Op::Div { a, b, c }
        | Op::IDiv { a, b, c }
        | Op::BAnd { a, b, c }
        | Op::BOr { a, b, c }
        | Op::BXor { a, b, c }
        | Op::Shl { a, b, c }
        | Op::Shr { a, b, c } => {
            reg(a)?;
            reg(b)?;
            reg(c)
        }
        Op::Concat { a, n } => {
            if n < 2 {
                return Err(String::from("concatenation of fewer than 2 values"));
            }
            regs(a, u32::from(n))
        }
        Op::Jmp { off } => target(off),
        Op::Eq { a, b, off, .. } | Op::Lt { a, b, off, .. } | Op::Le { a, b, off, .. } => {
            reg(a)?;
            reg(b)?;
            target(off)
        }
        Op::EqK { a, c, off, .. } => {
            reg(a)?;
            constant(u32::from(c))?;
            target(off)
        }
        Op::EqI { a, off, .. }
        | Op::LtI { a, off, .. }
        | Op::LeI { a, off, .. }
        | Op::GtI { a, off, .. }
        | Op::GeI { a, off, .. }
        | Op::Test { a, off, .. } => {
            reg(a)?;
            target(off)
        }
        Op::TestSet { a, b, off, .. } => {
            reg(a)?;
            reg(b)?;
            target(off)
        }
        Op::Call { a, b, c } => {
            regs(a, u32::from(b).max(1))?;
            regs(a, u32::from(c).saturating_sub(1))
        }
        Op::TailCall { a, b } => regs(a, u32::from(b).max(1)),
        Op::Return { a, b } => regs(a, u32::from(b).saturating_sub(1)),
        Op::Return0 => Ok(()),
        Op::ForPrep { a, off }
        | Op::ForLoop { a, off }
        | Op::TForPrep { a, off }
        | Op::TForLoop { a, off } => {
            regs(a, 4)?;
            target(off)
        }
        Op::TForCall { a, c } => regs(a, 4 + u32::from(c)),
        Op::SetList { a, n, .. } => regs(a, u32::from(n) + 1),
        Op::Closure { a, p } => {
            reg(a)?;
            if (p as usize) < f.protos.len() {
                Ok(())
            } else {
                Err(format!("prototype {} of {}", p, f.protos.len()))
            }
        }
        Op::VarArg { a, c } => {
            if !f.is_vararg {
                return Err(String::from("vararg in a fixed-arity function"));
            }
            regs(a, u32::from(c).saturating_sub(1))
        }
    }
}
