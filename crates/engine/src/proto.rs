//! A validated binary format for piccolo function prototypes (`string.dump` / binary `load`).
//!
//! piccolo's VM trusts its bytecode: it indexes registers, constants, upvalues and opcodes
//! without bounds checks that return errors, so a hand-made prototype can make it panic (a
//! trap in the wasm module). [`undump`] therefore checks every operand against the way
//! `piccolo-0.3.3/src/thread/vm.rs` and `thread.rs` use it before anything reaches a closure.
//!
//! Layout (little-endian, no padding; `str` = `u32` length + bytes; counts are `u32`):
//!
//! ```text
//! chunk    = "\x1bLPF" version:u8 chunk_name:str function
//! function = reference fixed_params:u8 has_varargs:u8 stack_size:u16
//!            u32 n × constant    constant = 0 nil | 1 false | 2 true | 3 i64 | 4 f64 | 5 str
//!            u32 n × opcode      opcode   = tag:u8 operands (see `put_op`)
//!            u32 n × line        line     = opcode_index:u32 line:u64 (n = 0 when stripped)
//!            u32 n × upvalue     upvalue  = 0 _ENV | 1 parent_register:u8 | 2 outer_index:u8
//!            u32 n × function
//! reference = 0 chunk | 1 line:u64 (expression) | 2 name:str line:u64 (named)
//! ```
//!
//! Operands: registers, upvalue and prototype indices, counts are `u8`; `LoadConstant`'s
//! index is `u16`; jumps are `i16`; a register-or-constant is a kind byte (0 register,
//! 1 constant) and an index byte; a count that may be variable is `u8` with 255 = variable
//! (the same for an optional close-upvalues register); booleans are 0 or 1.
//! Nested functions inherit the chunk name.

use std::fmt;

use piccolo::compiler::{CompiledPrototype, FunctionRef, LineNumber};
use piccolo::opcode::{OpCode, Operation, RCIndex};
use piccolo::types::{
    ConstantIndex16, ConstantIndex8, Opt254, PrototypeIndex, RegisterIndex, UpValueDescriptor,
    UpValueIndex, VarCount,
};
use piccolo::{Constant, Context, FunctionPrototype};

/// First bytes of every dump. Lua binary chunks start with ESC, so `load` can tell them apart.
pub const MAGIC: &[u8; 4] = b"\x1bLPF";
/// Format version written by [`dump`]; [`undump`] accepts only this one.
pub const VERSION: u8 = 1;
/// Deepest nesting of functions [`undump`] accepts. Reading, checking and piccolo's
/// `from_compiled_map_strings` each recurse once per level (about 1 KiB of stack per level
/// in a release build); the wasm module has a 512 KiB stack.
pub const MAX_DEPTH: usize = 100;
/// Registers are `u8`, so no valid function needs more stack slots than this.
const MAX_STACK: usize = 256;
/// Upvalue and prototype indices are `u8`.
const MAX_INDEXED: usize = 256;
/// Bounds the work of the upvalue analysis (up to 256 rounds per opcode); compiled Lua
/// gets nowhere near this in one function.
const MAX_OPCODES: usize = 1 << 18;

/// Why [`undump`] refused some bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UndumpError {
    /// The data ends before the structure it describes.
    Truncated,
    /// The data does not start with [`MAGIC`].
    BadMagic,
    /// Made by another version of this format.
    UnsupportedVersion(u8),
    /// Bytes left over after the main function.
    TrailingBytes,
    /// Functions nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A tag or flag byte with no meaning, or a table larger than a function can use.
    Malformed(String),
    /// Well-formed data the VM cannot run safely.
    Invalid {
        /// What is wrong.
        reason: String,
        /// Index of the offending opcode, if one is to blame.
        opcode: Option<usize>,
        /// The function, as piccolo names it (`<chunk>`, `<function 'f' at line 3>`).
        function: String,
    },
}

impl fmt::Display for UndumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated binary chunk"),
            Self::BadMagic => f.write_str("bad magic: not a lua-persist binary chunk"),
            Self::UnsupportedVersion(v) => write!(f, "unsupported version {v}"),
            Self::TrailingBytes => f.write_str("trailing bytes after binary chunk"),
            Self::TooDeep => write!(f, "functions nested deeper than {MAX_DEPTH}"),
            Self::Malformed(m) => write!(f, "malformed binary chunk: {m}"),
            Self::Invalid {
                reason,
                opcode,
                function,
            } => {
                f.write_str(reason)?;
                if let Some(i) = opcode {
                    write!(f, " in opcode {i}")?;
                }
                write!(f, " of function {function}")
            }
        }
    }
}

impl std::error::Error for UndumpError {}

/// True when `bytes` should be treated as a binary chunk rather than source: like Lua, any
/// input starting with ESC (which no Lua source can), so that [`undump`] reports what is
/// wrong with it instead of the parser.
pub fn is_binary_chunk(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MAGIC[0])
}

/// Serializes `proto` and its nested functions. With `strip`, line numbers are left out
/// (errors then report line 0's position); everything else needed to run it is kept.
pub fn dump(proto: &FunctionPrototype<'_>, strip: bool) -> Vec<u8> {
    let mut w = MAGIC.to_vec();
    w.push(VERSION);
    put_str(&mut w, proto.chunk_name.as_bytes());
    dump_function(&mut w, proto, strip);
    w
}

/// Rebuilds a prototype dumped by [`dump`], with its strings interned in `ctx`, after checking
/// that piccolo's VM can run it without panicking. The main function's upvalues must be
/// what [`piccolo::Closure::new`] accepts: none, or only `_ENV`.
pub fn undump<'gc>(ctx: Context<'gc>, bytes: &[u8]) -> Result<FunctionPrototype<'gc>, UndumpError> {
    load(ctx, bytes, true)
}

/// Like [`undump`], for a function dumped on its own out of an enclosing one: its upvalue
/// descriptors are kept but cannot be checked against a parent. The caller must build the
/// closure with [`piccolo::Closure::from_parts`] and exactly `proto.upvalues.len()` upvalues
/// (the VM indexes them without checks).
pub fn undump_detached<'gc>(
    ctx: Context<'gc>,
    bytes: &[u8],
) -> Result<FunctionPrototype<'gc>, UndumpError> {
    load(ctx, bytes, false)
}

fn load<'gc>(
    ctx: Context<'gc>,
    bytes: &[u8],
    closable: bool,
) -> Result<FunctionPrototype<'gc>, UndumpError> {
    let mut r = Reader { b: bytes, pos: 0 };
    if bytes.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(bytes) {
            UndumpError::Truncated
        } else {
            UndumpError::BadMagic
        });
    }
    if r.take(MAGIC.len())? != MAGIC {
        return Err(UndumpError::BadMagic);
    }
    match r.u8()? {
        VERSION => {}
        v => return Err(UndumpError::UnsupportedVersion(v)),
    }
    let chunk_name = r.str()?;
    let mut main = read_function(&mut r, 0)?;
    if r.pos != bytes.len() {
        return Err(UndumpError::TrailingBytes);
    }
    if closable && !(main.upvalues.is_empty() || main.upvalues == [UpValueDescriptor::Environment])
    {
        return Err(invalid(
            &main,
            None,
            "main function must have no upvalues besides _ENV".into(),
        ));
    }
    check_function(&main)?;
    // Bytecode from elsewhere gets the same frame widening as compiled source.
    stdlib::widen_tail_call_frames(&mut main);
    Ok(FunctionPrototype::from_compiled_map_strings(
        &ctx,
        ctx.intern(chunk_name),
        &main,
        |s| ctx.intern(s),
    ))
}

// ---------------------------------------------------------------------------------------
// Writing

fn put_u16(w: &mut Vec<u8>, v: u16) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(w: &mut Vec<u8>, v: usize) {
    // Every table a prototype holds is far below 4 GiB; saturate rather than wrap.
    w.extend_from_slice(&u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_u64(w: &mut Vec<u8>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_str(w: &mut Vec<u8>, s: &[u8]) {
    put_u32(w, s.len());
    w.extend_from_slice(s);
}

fn dump_function(w: &mut Vec<u8>, p: &FunctionPrototype<'_>, strip: bool) {
    match p.reference {
        FunctionRef::Chunk => w.push(0),
        FunctionRef::Expression(line) => {
            w.push(1);
            put_u64(w, line.0);
        }
        FunctionRef::Named(name, line) => {
            w.push(2);
            put_str(w, name.as_bytes());
            put_u64(w, line.0);
        }
    }
    w.extend_from_slice(&[p.fixed_params, p.has_varargs as u8]);
    put_u16(w, p.stack_size);

    put_u32(w, p.constants.len());
    for c in p.constants.iter() {
        match c {
            Constant::Nil => w.push(0),
            Constant::Boolean(b) => w.push(1 + *b as u8),
            Constant::Integer(i) => {
                w.push(3);
                w.extend_from_slice(&i.to_le_bytes());
            }
            Constant::Number(n) => {
                w.push(4);
                put_u64(w, n.to_bits());
            }
            Constant::String(s) => {
                w.push(5);
                put_str(w, s.as_bytes());
            }
        }
    }

    put_u32(w, p.opcodes.len());
    for op in p.opcodes.iter() {
        put_op(w, op.decode());
    }

    // `undump` insists on the shape the VM's line lookup needs (first entry at opcode 0,
    // strictly increasing, inside the function), so write exactly that shape.
    let lines = if strip {
        Vec::new()
    } else {
        normalized_lines(&p.opcode_line_numbers, p.opcodes.len())
    };
    put_u32(w, lines.len());
    for (i, line) in lines {
        put_u32(w, i);
        put_u64(w, line.0);
    }

    put_u32(w, p.upvalues.len());
    for u in p.upvalues.iter() {
        match u {
            UpValueDescriptor::Environment => w.push(0),
            UpValueDescriptor::ParentLocal(r) => w.extend_from_slice(&[1, r.0]),
            UpValueDescriptor::Outer(u) => w.extend_from_slice(&[2, u.0]),
        }
    }

    put_u32(w, p.prototypes.len());
    for child in p.prototypes.iter() {
        dump_function(w, child, strip);
    }
}

fn normalized_lines(lines: &[(usize, LineNumber)], len: usize) -> Vec<(usize, LineNumber)> {
    let mut out: Vec<(usize, LineNumber)> = Vec::with_capacity(lines.len() + 1);
    for &(i, line) in lines.iter().filter(|(i, _)| *i < len) {
        match out.last_mut() {
            Some(last) if last.0 >= i => {
                if last.0 == i {
                    last.1 = line;
                }
            }
            _ => out.push((i, line)),
        }
    }
    match out.first() {
        Some((0, _)) => {}
        first => {
            let line = first.map_or(LineNumber(0), |f| f.1);
            out.insert(0, (0, line));
        }
    }
    out
}

fn put_rc(w: &mut Vec<u8>, rc: RCIndex) {
    match rc {
        RCIndex::Register(r) => w.extend_from_slice(&[0, r.0]),
        RCIndex::Constant(c) => w.extend_from_slice(&[1, c.0]),
    }
}

fn vc(v: VarCount) -> u8 {
    v.to_constant().unwrap_or(255)
}

fn put_op(w: &mut Vec<u8>, op: Operation) {
    use Operation as O;
    let arith = |k: usize, d: RegisterIndex, l: RCIndex, r: RCIndex| (k, d, l, r);
    let arith = match op {
        O::Move { dest, source } => return w.extend_from_slice(&[0, dest.0, source.0]),
        O::LoadConstant { dest, constant } => {
            let [lo, hi] = constant.0.to_le_bytes();
            return w.extend_from_slice(&[1, dest.0, lo, hi]);
        }
        O::LoadBool {
            dest,
            value,
            skip_next,
        } => return w.extend_from_slice(&[2, dest.0, value as u8, skip_next as u8]),
        O::LoadNil { dest, count } => return w.extend_from_slice(&[3, dest.0, count]),
        O::NewTable {
            dest,
            array_size,
            map_size,
        } => return w.extend_from_slice(&[4, dest.0, array_size, map_size]),
        O::GetTable { dest, table, key } => {
            w.extend_from_slice(&[5, dest.0, table.0]);
            return put_rc(w, key);
        }
        O::SetTable { table, key, value } => {
            w.extend_from_slice(&[6, table.0]);
            put_rc(w, key);
            return put_rc(w, value);
        }
        O::GetUpTable { dest, table, key } => {
            w.extend_from_slice(&[7, dest.0, table.0]);
            return put_rc(w, key);
        }
        O::SetUpTable { table, key, value } => {
            w.extend_from_slice(&[8, table.0]);
            put_rc(w, key);
            return put_rc(w, value);
        }
        O::SetList { base, count } => return w.extend_from_slice(&[9, base.0, vc(count)]),
        O::Call {
            func,
            args,
            returns,
        } => return w.extend_from_slice(&[10, func.0, vc(args), vc(returns)]),
        O::TailCall { func, args } => return w.extend_from_slice(&[11, func.0, vc(args)]),
        O::Return { start, count } => return w.extend_from_slice(&[12, start.0, vc(count)]),
        O::VarArgs { dest, count } => return w.extend_from_slice(&[13, dest.0, vc(count)]),
        O::Jump {
            offset,
            close_upvalues,
        } => {
            let [lo, hi] = offset.to_le_bytes();
            return w.extend_from_slice(&[14, lo, hi, close_upvalues.to_u8().unwrap_or(255)]);
        }
        O::Test { value, is_true } => return w.extend_from_slice(&[15, value.0, is_true as u8]),
        O::TestSet {
            dest,
            value,
            is_true,
        } => return w.extend_from_slice(&[16, dest.0, value.0, is_true as u8]),
        O::Closure { dest, proto } => return w.extend_from_slice(&[17, dest.0, proto.0]),
        O::NumericForPrep { base, jump }
        | O::NumericForLoop { base, jump }
        | O::GenericForLoop { base, jump } => {
            let tag = match op {
                O::NumericForPrep { .. } => 18,
                O::NumericForLoop { .. } => 19,
                _ => 21,
            };
            let [lo, hi] = jump.to_le_bytes();
            return w.extend_from_slice(&[tag, base.0, lo, hi]);
        }
        O::GenericForCall { base, var_count } => {
            return w.extend_from_slice(&[20, base.0, var_count])
        }
        O::Method { base, table, key } => {
            w.extend_from_slice(&[22, base.0, table.0]);
            return put_rc(w, key);
        }
        O::Concat {
            dest,
            source,
            count,
        } => return w.extend_from_slice(&[23, dest.0, source.0, count]),
        O::GetUpValue { dest, source } => return w.extend_from_slice(&[24, dest.0, source.0]),
        O::SetUpValue { dest, source } => return w.extend_from_slice(&[25, dest.0, source.0]),
        O::Length { dest, source } => return w.extend_from_slice(&[26, dest.0, source.0]),
        O::Eq {
            skip_if,
            left,
            right,
        }
        | O::Less {
            skip_if,
            left,
            right,
        }
        | O::LessEq {
            skip_if,
            left,
            right,
        } => {
            let tag = match op {
                O::Eq { .. } => 27,
                O::Less { .. } => 28,
                _ => 29,
            };
            w.extend_from_slice(&[tag, skip_if as u8]);
            put_rc(w, left);
            return put_rc(w, right);
        }
        O::Not { dest, source } => return w.extend_from_slice(&[30, dest.0, source.0]),
        O::Minus { dest, source } => return w.extend_from_slice(&[31, dest.0, source.0]),
        O::BitNot { dest, source } => return w.extend_from_slice(&[32, dest.0, source.0]),
        O::Add { dest, left, right } => arith(0, dest, left, right),
        O::Sub { dest, left, right } => arith(1, dest, left, right),
        O::Mul { dest, left, right } => arith(2, dest, left, right),
        O::Div { dest, left, right } => arith(3, dest, left, right),
        O::IDiv { dest, left, right } => arith(4, dest, left, right),
        O::Mod { dest, left, right } => arith(5, dest, left, right),
        O::Pow { dest, left, right } => arith(6, dest, left, right),
        O::BitAnd { dest, left, right } => arith(7, dest, left, right),
        O::BitOr { dest, left, right } => arith(8, dest, left, right),
        O::BitXor { dest, left, right } => arith(9, dest, left, right),
        O::ShiftLeft { dest, left, right } => arith(10, dest, left, right),
        O::ShiftRight { dest, left, right } => arith(11, dest, left, right),
    };
    let (k, dest, left, right) = arith;
    w.extend_from_slice(&[33 + k as u8, dest.0]);
    put_rc(w, left);
    put_rc(w, right);
}

fn arith_op(k: u8, dest: RegisterIndex, left: RCIndex, right: RCIndex) -> Operation {
    use Operation as O;
    match k {
        0 => O::Add { dest, left, right },
        1 => O::Sub { dest, left, right },
        2 => O::Mul { dest, left, right },
        3 => O::Div { dest, left, right },
        4 => O::IDiv { dest, left, right },
        5 => O::Mod { dest, left, right },
        6 => O::Pow { dest, left, right },
        7 => O::BitAnd { dest, left, right },
        8 => O::BitOr { dest, left, right },
        9 => O::BitXor { dest, left, right },
        10 => O::ShiftLeft { dest, left, right },
        _ => O::ShiftRight { dest, left, right },
    }
}

// ---------------------------------------------------------------------------------------
// Reading (structure only; `check_function` validates meaning)

type Proto<'a> = CompiledPrototype<&'a [u8]>;

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A structural error, located by where reading stopped.
    fn bad(&self, what: String) -> UndumpError {
        UndumpError::Malformed(format!("{what} before byte {}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], UndumpError> {
        if self.b.len() - self.pos < n {
            return Err(UndumpError::Truncated);
        }
        self.pos += n;
        Ok(&self.b[self.pos - n..self.pos])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], UndumpError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, UndumpError> {
        Ok(self.array::<1>()?[0])
    }

    fn bool(&mut self) -> Result<bool, UndumpError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.bad(format!("bad boolean {b}"))),
        }
    }

    fn reg(&mut self) -> Result<RegisterIndex, UndumpError> {
        self.u8().map(RegisterIndex)
    }

    fn i16(&mut self) -> Result<i16, UndumpError> {
        self.array().map(i16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<usize, UndumpError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn u64(&mut self) -> Result<u64, UndumpError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A count of items at least `min_size` bytes each, refused before anything is
    /// allocated for it if the remaining input cannot hold that many.
    fn count(&mut self, min_size: usize) -> Result<usize, UndumpError> {
        let n = self.u32()?;
        if n.saturating_mul(min_size) > self.b.len() - self.pos {
            return Err(UndumpError::Truncated);
        }
        Ok(n)
    }

    fn str(&mut self) -> Result<&'a [u8], UndumpError> {
        let n = self.count(1)?;
        self.take(n)
    }

    fn var_count(&mut self) -> Result<VarCount, UndumpError> {
        Ok(VarCount::try_constant(self.u8()?).unwrap_or_else(VarCount::variable))
    }

    fn rc(&mut self) -> Result<RCIndex, UndumpError> {
        match self.u8()? {
            0 => Ok(RCIndex::Register(self.reg()?)),
            1 => Ok(RCIndex::Constant(ConstantIndex8(self.u8()?))),
            k => Err(self.bad(format!("bad operand kind {k}"))),
        }
    }

    fn op(&mut self) -> Result<Operation, UndumpError> {
        use Operation as O;
        Ok(match self.u8()? {
            0 => O::Move {
                dest: self.reg()?,
                source: self.reg()?,
            },
            1 => O::LoadConstant {
                dest: self.reg()?,
                constant: ConstantIndex16(u16::from_le_bytes(self.array()?)),
            },
            2 => O::LoadBool {
                dest: self.reg()?,
                value: self.bool()?,
                skip_next: self.bool()?,
            },
            3 => O::LoadNil {
                dest: self.reg()?,
                count: self.u8()?,
            },
            4 => O::NewTable {
                dest: self.reg()?,
                array_size: self.u8()?,
                map_size: self.u8()?,
            },
            5 => O::GetTable {
                dest: self.reg()?,
                table: self.reg()?,
                key: self.rc()?,
            },
            6 => O::SetTable {
                table: self.reg()?,
                key: self.rc()?,
                value: self.rc()?,
            },
            7 => O::GetUpTable {
                dest: self.reg()?,
                table: UpValueIndex(self.u8()?),
                key: self.rc()?,
            },
            8 => O::SetUpTable {
                table: UpValueIndex(self.u8()?),
                key: self.rc()?,
                value: self.rc()?,
            },
            9 => O::SetList {
                base: self.reg()?,
                count: self.var_count()?,
            },
            10 => O::Call {
                func: self.reg()?,
                args: self.var_count()?,
                returns: self.var_count()?,
            },
            11 => O::TailCall {
                func: self.reg()?,
                args: self.var_count()?,
            },
            12 => O::Return {
                start: self.reg()?,
                count: self.var_count()?,
            },
            13 => O::VarArgs {
                dest: self.reg()?,
                count: self.var_count()?,
            },
            14 => O::Jump {
                offset: self.i16()?,
                close_upvalues: Opt254::try_some(self.u8()?).unwrap_or_else(Opt254::none),
            },
            15 => O::Test {
                value: self.reg()?,
                is_true: self.bool()?,
            },
            16 => O::TestSet {
                dest: self.reg()?,
                value: self.reg()?,
                is_true: self.bool()?,
            },
            17 => O::Closure {
                dest: self.reg()?,
                proto: PrototypeIndex(self.u8()?),
            },
            18 => O::NumericForPrep {
                base: self.reg()?,
                jump: self.i16()?,
            },
            19 => O::NumericForLoop {
                base: self.reg()?,
                jump: self.i16()?,
            },
            20 => O::GenericForCall {
                base: self.reg()?,
                var_count: self.u8()?,
            },
            21 => O::GenericForLoop {
                base: self.reg()?,
                jump: self.i16()?,
            },
            22 => O::Method {
                base: self.reg()?,
                table: self.reg()?,
                key: self.rc()?,
            },
            23 => O::Concat {
                dest: self.reg()?,
                source: self.reg()?,
                count: self.u8()?,
            },
            24 => O::GetUpValue {
                dest: self.reg()?,
                source: UpValueIndex(self.u8()?),
            },
            25 => O::SetUpValue {
                dest: UpValueIndex(self.u8()?),
                source: self.reg()?,
            },
            26 => O::Length {
                dest: self.reg()?,
                source: self.reg()?,
            },
            tag @ 27..=29 => {
                let (skip_if, left, right) = (self.bool()?, self.rc()?, self.rc()?);
                match tag {
                    27 => O::Eq {
                        skip_if,
                        left,
                        right,
                    },
                    28 => O::Less {
                        skip_if,
                        left,
                        right,
                    },
                    _ => O::LessEq {
                        skip_if,
                        left,
                        right,
                    },
                }
            }
            tag @ 30..=32 => {
                let (dest, source) = (self.reg()?, self.reg()?);
                match tag {
                    30 => O::Not { dest, source },
                    31 => O::Minus { dest, source },
                    _ => O::BitNot { dest, source },
                }
            }
            tag @ 33..=44 => arith_op(tag - 33, self.reg()?, self.rc()?, self.rc()?),
            tag => return Err(self.bad(format!("bad opcode tag {tag}"))),
        })
    }
}

fn read_function<'a>(r: &mut Reader<'a>, depth: usize) -> Result<Proto<'a>, UndumpError> {
    if depth >= MAX_DEPTH {
        return Err(UndumpError::TooDeep);
    }
    let reference = match r.u8()? {
        0 => FunctionRef::Chunk,
        1 => FunctionRef::Expression(LineNumber(r.u64()?)),
        2 => FunctionRef::Named(r.str()?, LineNumber(r.u64()?)),
        t => return Err(r.bad(format!("bad function reference tag {t}"))),
    };
    let fixed_params = r.u8()?;
    let has_varargs = r.bool()?;
    let stack_size = u16::from_le_bytes(r.array()?);

    let n = r.count(1)?;
    // Constant indices are u16; more could not be used and would cost 24 bytes each.
    if n > 1 << 16 {
        return Err(r.bad(format!("{n} constants in one function")));
    }
    let mut constants = Vec::with_capacity(n);
    for _ in 0..n {
        constants.push(match r.u8()? {
            0 => Constant::Nil,
            1 => Constant::Boolean(false),
            2 => Constant::Boolean(true),
            3 => Constant::Integer(i64::from_le_bytes(r.array()?)),
            4 => Constant::Number(f64::from_bits(r.u64()?)),
            5 => Constant::String(r.str()?),
            t => return Err(r.bad(format!("bad constant tag {t}"))),
        });
    }

    let n = r.count(1)?;
    if n > MAX_OPCODES {
        return Err(r.bad(format!("{n} opcodes in one function")));
    }
    let mut opcodes = Vec::with_capacity(n);
    for _ in 0..n {
        opcodes.push(OpCode::encode(r.op()?));
    }

    let n = r.count(12)?;
    if n > opcodes.len() {
        return Err(r.bad(format!("{n} line entries for {} opcodes", opcodes.len())));
    }
    let mut opcode_line_numbers = Vec::with_capacity(n.max(1));
    for _ in 0..n {
        opcode_line_numbers.push((r.u32()?, LineNumber(r.u64()?)));
    }
    if n == 0 {
        // Stripped: the VM's line lookup still needs an entry covering opcode 0.
        opcode_line_numbers.push((0, LineNumber(0)));
    }

    let n = r.count(1)?;
    if n > MAX_INDEXED {
        return Err(r.bad(format!("{n} upvalues in one function")));
    }
    let mut upvalues = Vec::with_capacity(n);
    for _ in 0..n {
        upvalues.push(match r.u8()? {
            0 => UpValueDescriptor::Environment,
            1 => UpValueDescriptor::ParentLocal(r.reg()?),
            2 => UpValueDescriptor::Outer(UpValueIndex(r.u8()?)),
            t => return Err(r.bad(format!("bad upvalue tag {t}"))),
        });
    }

    // A nested function takes at least 20 bytes; the count check keeps the Vec honest.
    let n = r.count(20)?;
    if n > MAX_INDEXED {
        return Err(r.bad(format!("{n} nested functions in one function")));
    }
    let mut prototypes = Vec::with_capacity(n);
    for _ in 0..n {
        prototypes.push(Box::new(read_function(r, depth + 1)?));
    }

    Ok(CompiledPrototype {
        reference,
        fixed_params,
        has_varargs,
        stack_size,
        constants,
        opcodes,
        opcode_line_numbers,
        upvalues,
        prototypes,
    })
}

// ---------------------------------------------------------------------------------------
// Validation

fn function_name(p: &Proto<'_>) -> String {
    p.reference
        .as_string_ref()
        .map_strings(|s| String::from_utf8_lossy(s))
        .to_string()
}

fn invalid(p: &Proto<'_>, opcode: Option<usize>, reason: String) -> UndumpError {
    UndumpError::Invalid {
        reason,
        opcode,
        function: function_name(p),
    }
}

fn describe(u: &UpValueDescriptor) -> String {
    match u {
        UpValueDescriptor::Environment => "_ENV".into(),
        UpValueDescriptor::ParentLocal(r) => format!("from parent register {}", r.0),
        UpValueDescriptor::Outer(u) => format!("from parent upvalue {}", u.0),
    }
}

/// Registers with possibly open upvalues, one bit each.
type Open = [u64; 4];

fn highest(open: &Open) -> Option<usize> {
    (0..4)
        .rev()
        .find(|&i| open[i] != 0)
        .map(|i| i * 64 + 63 - open[i].leading_zeros() as usize)
}

/// Where control can go after opcode `i` (at most two places), or why it would leave the
/// function (including the offset `i16::MIN`, which piccolo's `add_offset` cannot negate).
fn successors(i: usize, op: &Operation, len: usize) -> Result<Vec<usize>, String> {
    use Operation as O;
    let jump = |offset: i16| -> Result<usize, String> {
        let t = (i as i64) + 1 + offset as i64;
        if offset == i16::MIN || t < 0 || t as usize >= len {
            Err(format!("jump offset {offset} leaves the function"))
        } else {
            Ok(t as usize)
        }
    };
    let next = |n: usize| -> Result<usize, String> {
        if i + n < len {
            Ok(i + n)
        } else {
            Err("execution runs past the last opcode".into())
        }
    };
    Ok(match *op {
        O::Return { .. } | O::TailCall { .. } => vec![],
        O::Jump { offset, .. } | O::NumericForPrep { jump: offset, .. } => vec![jump(offset)?],
        O::LoadBool { skip_next, .. } => vec![next(if skip_next { 2 } else { 1 })?],
        O::Test { .. } | O::TestSet { .. } | O::Eq { .. } | O::Less { .. } | O::LessEq { .. } => {
            vec![next(1)?, next(2)?]
        }
        O::NumericForLoop { jump: j, .. } | O::GenericForLoop { jump: j, .. } => {
            vec![next(1)?, jump(j)?]
        }
        _ => vec![next(1)?],
    })
}

/// Checks `p` and, recursively, its nested functions.
fn check_function(p: &Proto<'_>) -> Result<(), UndumpError> {
    let fail = |i: Option<usize>, reason: String| invalid(p, i, reason);
    let ss = p.stack_size as usize;
    let len = p.opcodes.len();
    if ss > MAX_STACK {
        return Err(fail(None, format!("stack size {ss} above {MAX_STACK}")));
    }
    if usize::from(p.fixed_params) > ss {
        return Err(fail(
            None,
            format!("{} parameters exceed stack size {ss}", p.fixed_params),
        ));
    }
    if len == 0 {
        return Err(fail(None, "no opcodes".into()));
    }
    let lines = &p.opcode_line_numbers;
    if lines[0].0 != 0
        || lines.windows(2).any(|w| w[0].0 >= w[1].0)
        || lines[lines.len() - 1].0 >= len
    {
        return Err(fail(None, "line table not sorted from opcode 0".into()));
    }

    for child in &p.prototypes {
        for u in &child.upvalues {
            let ok = match *u {
                UpValueDescriptor::Environment => false,
                UpValueDescriptor::ParentLocal(r) => (r.0 as usize) < ss,
                UpValueDescriptor::Outer(u) => (u.0 as usize) < p.upvalues.len(),
            };
            if !ok {
                return Err(invalid(
                    child,
                    None,
                    format!(
                        "upvalue {} not available in the enclosing function",
                        describe(u)
                    ),
                ));
            }
        }
    }

    let ops: Vec<Operation> = p.opcodes.iter().map(|o| o.decode()).collect();
    // piccolo pops the frame before it checks a `Return`'s count against the stack state,
    // so a mismatch there leaves a broken thread (an assertion fails later) instead of an
    // error: a variable `Return` may only be reached from the opcode producing the results.
    let var_return =
        |j: usize| matches!(ops[j], Operation::Return { count, .. } if count.is_variable());
    if var_return(0) {
        return Err(fail(
            Some(0),
            "variable return without variable results".into(),
        ));
    }
    for (i, op) in ops.iter().enumerate() {
        check_op(p, i, op, &ops).map_err(|reason| fail(Some(i), reason))?;
        for s in successors(i, op, len).map_err(|reason| fail(Some(i), reason))? {
            if var_return(s) && !(s == i + 1 && produces_variable(op).is_some()) {
                return Err(fail(
                    Some(s),
                    format!("variable return reached from opcode {i} without variable results"),
                ));
            }
        }
    }
    check_upvalue_flow(p, &ops)?;

    for child in &p.prototypes {
        check_function(child)?;
    }
    Ok(())
}

/// Static checks of one opcode's operands.
fn check_op(p: &Proto<'_>, i: usize, op: &Operation, ops: &[Operation]) -> Result<(), String> {
    use Operation as O;
    let ss = p.stack_size as usize;
    // Registers `start .. start + n` must exist in this frame.
    let span = |start: RegisterIndex, n: usize| -> Result<(), String> {
        if start.0 as usize + n > ss {
            Err(if n <= 1 {
                format!("register {} out of range (stack size {ss})", start.0)
            } else {
                format!(
                    "registers {}..{} out of range (stack size {ss})",
                    start.0,
                    start.0 as usize + n
                )
            })
        } else {
            Ok(())
        }
    };
    let reg = |r: RegisterIndex| span(r, 1);
    let konst = |c: usize| {
        if c < p.constants.len() {
            Ok(())
        } else {
            Err(format!(
                "constant {c} out of range ({} constants)",
                p.constants.len()
            ))
        }
    };
    let rc = |x: RCIndex| match x {
        RCIndex::Register(r) => reg(r),
        RCIndex::Constant(c) => konst(c.0 as usize),
    };
    let up = |u: UpValueIndex| {
        if (u.0 as usize) < p.upvalues.len() {
            Ok(())
        } else {
            Err(format!(
                "upvalue {} out of range ({} upvalues)",
                u.0,
                p.upvalues.len()
            ))
        }
    };
    let count = |v: VarCount| v.to_constant().map_or(0, usize::from);

    match *op {
        O::Move { dest, source }
        | O::Length { dest, source }
        | O::Not { dest, source }
        | O::Minus { dest, source }
        | O::BitNot { dest, source } => {
            reg(dest)?;
            reg(source)?;
        }
        O::LoadConstant { dest, constant } => {
            reg(dest)?;
            konst(constant.0 as usize)?;
        }
        O::LoadBool { dest, .. } | O::NewTable { dest, .. } => reg(dest)?,
        O::LoadNil { dest, count } => {
            // The VM computes `dest + count` in u8.
            if dest.0 as usize + count as usize > 255 {
                return Err(format!("nil range {}+{count} overflows", dest.0));
            }
            span(dest, count as usize)?;
        }
        O::GetTable { dest, table, key }
        | O::Method {
            base: dest,
            table,
            key,
        } => {
            // Method writes `base` and `base + 1`.
            span(dest, if matches!(op, O::Method { .. }) { 2 } else { 1 })?;
            reg(table)?;
            rc(key)?;
        }
        O::SetTable { table, key, value } => {
            reg(table)?;
            rc(key)?;
            rc(value)?;
        }
        O::GetUpTable { dest, table, key } => {
            reg(dest)?;
            up(table)?;
            rc(key)?;
        }
        O::SetUpTable { table, key, value } => {
            up(table)?;
            rc(key)?;
            rc(value)?;
        }
        // Table, next index, then the values.
        O::SetList { base, count: n } => span(base, 2 + count(n))?,
        O::Call {
            func,
            args,
            returns,
        } => {
            span(func, 1 + count(args))?;
            span(func, count(returns).max(1))?;
        }
        O::TailCall { func, args } => span(func, 1 + count(args))?,
        O::Return { start, count: n } => span(start, count(n))?,
        O::VarArgs { dest, count: n } => {
            if !p.has_varargs {
                return Err("varargs in a function without `...`".into());
            }
            span(dest, count(n))?;
        }
        O::Jump { .. } => {}
        O::Test { value, .. } => reg(value)?,
        O::TestSet { dest, value, .. } => {
            reg(dest)?;
            reg(value)?;
        }
        O::Closure { dest, proto } => {
            reg(dest)?;
            if proto.0 as usize >= p.prototypes.len() {
                return Err(format!(
                    "function {} out of range ({} nested functions)",
                    proto.0,
                    p.prototypes.len()
                ));
            }
        }
        // Index, limit, step (and the visible loop variable for the loop opcode).
        O::NumericForPrep { base, .. } => span(base, 3)?,
        O::NumericForLoop { base, .. } => span(base, 4)?,
        O::GenericForCall { base, var_count } => {
            if var_count == 255 {
                return Err("generic for with 255 variables".into());
            }
            // Iterator, state, control, then the loop variables.
            span(base, 3 + var_count as usize)?;
        }
        O::GenericForLoop { base, .. } => span(base, 2)?,
        O::Concat {
            dest,
            source,
            count,
        } => {
            reg(dest)?;
            span(source, count as usize)?;
        }
        O::GetUpValue { dest, source } => {
            reg(dest)?;
            up(source)?;
        }
        O::SetUpValue { dest, source } => {
            up(dest)?;
            reg(source)?;
        }
        O::Eq { left, right, .. } | O::Less { left, right, .. } | O::LessEq { left, right, .. } => {
            rc(left)?;
            rc(right)?;
        }
        O::Add { dest, left, right }
        | O::Sub { dest, left, right }
        | O::Mul { dest, left, right }
        | O::Div { dest, left, right }
        | O::IDiv { dest, left, right }
        | O::Mod { dest, left, right }
        | O::Pow { dest, left, right }
        | O::BitAnd { dest, left, right }
        | O::BitOr { dest, left, right }
        | O::BitXor { dest, left, right }
        | O::ShiftLeft { dest, left, right }
        | O::ShiftRight { dest, left, right } => {
            reg(dest)?;
            rc(left)?;
            rc(right)?;
        }
    }

    // A variable count leaves the stack top at the results (they may be fewer than the
    // frame's registers), and only the opcode right after may read them: one that takes a
    // variable count starting at or below the first result. Anything else could index past
    // the stack's end.
    if let Some(top) = produces_variable(op) {
        let ok = match ops.get(i + 1) {
            Some(&O::Call { func, args, .. }) | Some(&O::TailCall { func, args }) => {
                args.is_variable() && (func.0 as usize) < top
            }
            Some(&O::Return { start, count }) => count.is_variable() && start.0 as usize <= top,
            Some(&O::SetList { base, count }) => count.is_variable() && base.0 as usize + 2 <= top,
            _ => false,
        };
        if !ok {
            return Err("variable results not taken by the next opcode".into());
        }
    }
    Ok(())
}

/// The first result register of an opcode that leaves a variable number of results.
fn produces_variable(op: &Operation) -> Option<usize> {
    match *op {
        Operation::Call { func, returns, .. } if returns.is_variable() => Some(func.0 as usize),
        Operation::VarArgs { dest, count } if count.is_variable() => Some(dest.0 as usize),
        _ => None,
    }
}

/// Tracks which registers may hold open upvalues along every path. piccolo asserts that a
/// called function's frame starts above every open upvalue of its caller, and closing
/// upvalues reads their registers, so a call (or variable results) must start above all
/// of them. Compiled code always satisfies this: calls go at the top of the live locals.
fn check_upvalue_flow(p: &Proto<'_>, ops: &[Operation]) -> Result<(), UndumpError> {
    use Operation as O;
    let mut state: Vec<Option<Open>> = vec![None; ops.len()];
    state[0] = Some([0; 4]);
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        let Some(mut open) = state[i] else { continue };
        let floor = match ops[i] {
            O::Call { func, .. } => Some(func.0 as usize),
            O::VarArgs { dest, count } if count.is_variable() => Some(dest.0 as usize),
            O::GenericForCall { base, .. } => Some(base.0 as usize + 3),
            _ => None,
        };
        if let (Some(floor), Some(top)) = (floor, highest(&open)) {
            if top >= floor {
                return Err(invalid(
                    p,
                    Some(i),
                    format!("register {top} has an open upvalue above the call at {floor}"),
                ));
            }
        }
        match ops[i] {
            O::Closure { proto, .. } => {
                for u in &p.prototypes[proto.0 as usize].upvalues {
                    if let UpValueDescriptor::ParentLocal(r) = u {
                        open[r.0 as usize / 64] |= 1 << (r.0 % 64);
                    }
                }
            }
            O::Jump { close_upvalues, .. } => {
                if let Some(r) = close_upvalues.to_u8() {
                    for (w, word) in open.iter_mut().enumerate() {
                        let keep = (r as usize).saturating_sub(w * 64).min(64);
                        *word &= if keep == 64 { !0 } else { (1u64 << keep) - 1 };
                    }
                }
            }
            _ => {}
        }
        // Already validated by `check_op`/`successors`.
        for s in successors(i, &ops[i], ops.len()).unwrap_or_default() {
            let merged = match state[s] {
                None => open,
                Some(old) => std::array::from_fn(|w| old[w] | open[w]),
            };
            if state[s] != Some(merged) {
                state[s] = Some(merged);
                work.push(s);
            }
        }
    }
    Ok(())
}
