//! Function prototypes as the compiler produces them and binary chunks carry them: plain data,
//! outside any GC arena. The VM turns one into a [`crate::function::Proto`] when it loads it.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;

use crate::bytecode::Op;

/// A constant of a prototype.
#[derive(Clone, Debug, PartialEq)]
pub enum Constant {
    Nil,
    Boolean(bool),
    Integer(i64),
    Float(f64),
    String(Box<[u8]>),
}

/// Where a closure finds one of its upvalues when it is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpvalueDesc {
    /// `true`: a local of the enclosing function, in register `index`;
    /// `false`: the enclosing function's upvalue `index`.
    pub in_stack: bool,
    pub index: u8,
    /// The variable's name, for error messages and the debug library (empty when stripped).
    pub name: Box<[u8]>,
}

/// A local variable's name and the instructions where it is alive, for error messages and
/// the debug library.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalDesc {
    pub name: Box<[u8]>,
    pub reg: u8,
    /// First instruction where the variable is active.
    pub start_pc: u32,
    /// First instruction where it is no longer active.
    pub end_pc: u32,
}

/// A compiled function.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionProto {
    /// The chunk name as given to `load` (`"=stdin"`, `"@file.lua"`, or the source text).
    pub source: Rc<[u8]>,
    /// Line of the `function` keyword; 0 for a main chunk.
    pub line_defined: u32,
    /// Line of the closing `end`; 0 for a main chunk.
    pub last_line_defined: u32,
    pub num_params: u8,
    pub is_vararg: bool,
    /// Registers the function uses: the interpreter gives each frame this many slots.
    pub max_stack: u8,
    pub code: Vec<Op>,
    /// Source line of each instruction (same length as `code`; empty when stripped).
    pub lines: Vec<u32>,
    pub constants: Vec<Constant>,
    pub protos: Vec<FunctionProto>,
    pub upvalues: Vec<UpvalueDesc>,
    pub locals: Vec<LocalDesc>,
}

/// How messages name a chunk (`luaO_chunkid`): `=name` as is, `@file` as the file name (its
/// tail when long), anything else as `[string "first line..."]`.
pub fn chunk_id(source: &[u8]) -> alloc::string::String {
    use alloc::string::String;
    const MAX: usize = 60; // LUA_IDSIZE
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match source.first() {
        Some(b'=') => text(&source[1..source.len().min(MAX)]),
        Some(b'@') => {
            let name = &source[1..];
            if name.len() < MAX {
                text(name)
            } else {
                let keep = MAX - 4;
                let mut s = String::from("...");
                s.push_str(&text(&name[name.len() - keep..]));
                s
            }
        }
        _ => {
            const PRE: &str = "[string \"";
            const POS: &str = "\"]";
            const DOTS: &str = "...";
            let room = MAX - PRE.len() - DOTS.len() - POS.len() - 1;
            let line_end = source.iter().position(|&c| c == b'\n');
            let mut s = String::from(PRE);
            if source.len() < room && line_end.is_none() {
                s.push_str(&text(source));
            } else {
                let end = line_end.unwrap_or(source.len()).min(room);
                s.push_str(&text(&source[..end]));
                s.push_str(DOTS);
            }
            s.push_str(POS);
            s
        }
    }
}
