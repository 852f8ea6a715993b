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
